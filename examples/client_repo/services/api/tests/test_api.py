from api import hello


def test_hello_uses_common() -> None:
    assert hello("bob") == {"message": "hello, bob"}
