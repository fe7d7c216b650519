"""Stage `check`: the whole of params.yaml against the schema (pipelines/config.py).

Every stage checks the whole configuration, but DVC runs only the stages whose declared keys
changed: a key no stage reads (a typo added with `dvc exp run -S +model.purchase.penalizer=0.01`)
would change none of them and pass unseen. This stage depends on every key of params.yaml, so
any change runs it, and an unknown or invalid key ends the run in one line. It writes nothing.
"""
from pipelines.common import run


def main(p: dict) -> None:
    print("check: params.yaml follows the schema")


if __name__ == "__main__":
    run(main)
