"""A writer process for the crash test: records answers and prints each one once it is acknowledged.

Run as ``python -m tests.store.crash_writer DB_PATH CATALOG_DIR``; the parent SIGKILLs it mid-stream.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.app import running_engine
from bot.identity import SpaceRef, UserRef
from bot.replies import Outcome
from bot.settings import load_settings


async def main(db_path: Path, catalog_dir: Path) -> None:
    settings = load_settings(catalog_dir=catalog_dir, storage={"path": db_path})
    space = SpaceRef("console", "crash", "Crash test")
    async with running_engine(settings) as engine:
        number = 0
        while True:
            batch = [UserRef("console", f"u{number + i}", f"U{number + i}", "en") for i in range(50)]
            number += len(batch)
            firsts = await asyncio.gather(
                *(engine.tasks.next_task(ctx) for ctx in [await engine.context(user, space) for user in batch])
            )
            replies = await asyncio.gather(
                *(
                    engine.act(user, space, first.buttons[0][0].action)
                    for user, first in zip(batch, firsts, strict=True)
                )
            )
            for user, reply in zip(batch, replies, strict=True):
                if reply.outcome == Outcome.DONE:
                    sys.stdout.write(f"{user.platform_user_id}\n")
            sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
