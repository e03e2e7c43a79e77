def test_etl_runs_in_its_own_container() -> None:
    import os

    assert os.getcwd().endswith("/infra/etl")
