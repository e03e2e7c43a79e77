from common import greet


def hello(user: str) -> dict[str, str]:
    return {"message": greet(user)}
