"""PostgreSQL's planner statistics kept fresh by the bot itself, on a thread of its own.

PostgreSQL plans each query from statistics that ANALYZE gathers, and autovacuum runs ANALYZE
only once a minute at most, or never where it is off (as on the machines this project is built
and tested on). A bot's tables go from empty to tens of thousands of rows in minutes on its first
busy day, and until the first ANALYZE the planner guesses their sizes and selectivities: the
ingest benchmark saw a batch's statements turn into whole-table scans that grew with the tables
(the inbox outcomes' UPDATE hashed the whole inbox, 2 → 5 ms a batch after 20,000 messages; the
senders' lookup filtered every account of the platform, 0.25 → 2.7 ms). Statistics made when a
table was small are also what cached (prepared) plans were made from; ANALYZE replaces them.

So every `every` commits of the bot's engine, this thread asks PostgreSQL which of the schema's
tables changed by more than `threshold` rows + `scale` × the rows the last ANALYZE saw, and
analyzes those. The plans need each table's size and spread to within a factor of two, no finer:
with `scale` 1 a table is analyzed as it doubles (about eight times on its way to 100,000 rows,
most of them while it is small and cheap to sample), where autovacuum's 10 % would analyze a filling table
every few seconds, each ANALYZE taking the server's time beside the bot's batches (the benchmark's
slowest batches coincided with them). Finer statistics of a grown table are autovacuum's job.

The check never blocks a commit: it runs beside the bot on a pooled connection of its own, one at
a time, and ANALYZE takes only a lock that writers do not wait for. It samples 3,000 rows a table
(`default_statistics_target` 10, not 100): a tenth of the server's time, and enough for plans that
look rows up by key. Where autovacuum is on it analyzes a growing table long before it doubles, so
its finer statistics are never replaced by these.
"""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa
from sqlalchemy import event

log = logging.getLogger(__name__)

EVERY = 200  # commits between checks (a batch is two commits)
THRESHOLD = 500  # rows: below a few hundred any plan is fast (autovacuum's default is 50)
SCALE = 1.0  # × the rows at the last ANALYZE: once a table has doubled (autovacuum's default is 0.1)
SAMPLE_TARGET = 10  # default_statistics_target for these ANALYZEs: 3,000 sampled rows a table, not 30,000

_STALE = sa.text(
    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
    "WHERE s.schemaname = current_schema() AND s.n_mod_since_analyze > :threshold + :scale * GREATEST(c.reltuples, 0) "
    "ORDER BY s.n_mod_since_analyze DESC"
)


class StatisticsKeeper:
    def __init__(self, engine: sa.Engine, every: int = EVERY, threshold: int = THRESHOLD, scale: float = SCALE) -> None:
        self.engine = engine
        self.every = every
        self.threshold = threshold
        self.scale = scale
        self.analyzed: dict[str, int] = {}  # table → how many times this process analyzed it
        self._commits = 0
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()  # commits may come from several threads (delivery, schedules)
        self._stopped = False
        self._autovacuum_checked = False

    def note_commit(self) -> None:
        self._commits += 1
        if self._commits >= self.every:
            self.check_soon()

    def check_soon(self) -> None:
        """Start a check on the thread, unless one is running or the keeper stopped."""
        with self._starting:
            if self._stopped or (self._thread is not None and self._thread.is_alive()):
                return
            self._commits = 0
            self._thread = threading.Thread(target=self._check_logged, name="pg-statistics", daemon=True)
            self._thread.start()

    def wait(self) -> None:
        """Until the running check (if any) is done."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout=30)

    def check(self) -> list[str]:
        """Analyze the tables that changed enough since their last ANALYZE; their names."""
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if not self._autovacuum_checked:
                self._autovacuum_checked = True
                if conn.execute(sa.text("SELECT current_setting('autovacuum')")).scalar() != "on":
                    log.warning(
                        "PostgreSQL's autovacuum is off: the bot renews planner statistics itself, but nothing "
                        "reclaims dead rows (VACUUM) and tables keep growing; turn autovacuum on"
                    )
            stale = list(conn.execute(_STALE, {"threshold": self.threshold, "scale": self.scale}).scalars())
            if stale:
                conn.execute(sa.text(f"SET default_statistics_target = {SAMPLE_TARGET}"))
                try:
                    for name in stale:
                        conn.execute(sa.text('ANALYZE "{}"'.format(name.replace('"', '""'))))
                        self.analyzed[name] = self.analyzed.get(name, 0) + 1
                finally:
                    conn.execute(sa.text("RESET default_statistics_target"))
        if stale:
            log.info("planner statistics renewed for %s", ", ".join(stale))
        return stale

    def stop(self) -> None:
        self._stopped = True
        self.wait()

    def _check_logged(self) -> None:
        try:
            self.check()
        except sa.exc.DBAPIError as exc:  # the database is away: the next check tries again
            log.info("planner statistics check failed (%s); trying again later", type(exc).__name__)
        except Exception:
            log.exception("planner statistics check failed")


def keep_statistics(engine: sa.Engine, every: int = EVERY) -> StatisticsKeeper:
    """Check `engine`'s tables now and every `every` commits until it is disposed (PostgreSQL only).

    The first check is at once: a database restored from a dump has no statistics (pg_restore
    does not carry them), and the log should say at start-up that autovacuum is off."""
    keeper = StatisticsKeeper(engine, every)

    @event.listens_for(engine, "commit")
    def _counted(_conn: sa.Connection) -> None:  # the check's own connection autocommits: never counted
        keeper.note_commit()

    event.listen(engine, "engine_disposed", lambda _engine: keeper.stop())
    keeper.check_soon()
    return keeper
