"""An index transaction rolled back to break a deadlock is retried (issue 18: 8 writers on
MariaDB lost one run in 8,000 to InnoDB error 1213 on the index write)."""

import pymysql
from sqlalchemy.exc import IntegrityError, OperationalError

from mlstore.index.writer import is_deadlock


def test_deadlocks_and_lock_timeouts_are_retryable_other_errors_are_not():
    assert is_deadlock(OperationalError("INSERT", {}, pymysql.err.OperationalError(1213, "Deadlock found")))
    assert is_deadlock(OperationalError("INSERT", {}, pymysql.err.OperationalError(1205, "Lock wait timeout")))
    assert not is_deadlock(OperationalError("INSERT", {}, pymysql.err.OperationalError(2003, "Can't connect")))
    assert not is_deadlock(IntegrityError("INSERT", {}, pymysql.err.IntegrityError(1062, "Duplicate entry")))
