"""Data functions, by noun. Keyword-only, and none of them commits: the unit of work (a
request or a job) owns the transaction. Callers use ``from service.db import repository as
repo`` and ``repo.<function>``."""

from service.db.repository.grades import add_manual_grade, audit, manual_grades
from service.db.repository.groups import (
    GroupConflictError,
    delete_group,
    get_group,
    group_of,
    list_groups,
    set_group,
)
from service.db.repository.policies import get_policy
from service.db.repository.runs import (
    claim_next_run,
    claim_run,
    current_run,
    enqueue_run,
    finish_run,
    heartbeat,
    live_workers,
    queue_depth,
    queue_position,
    release_for_retry,
    renew_lease,
    requeue_expired,
    runs_with_status,
)
from service.db.repository.submissions import (
    can_see,
    count_recent,
    create_submission,
    ensure_blob,
    find_idempotent,
    list_submissions,
    owners,
)
from service.db.repository.users import create_user, user_by_name, user_by_token

__all__ = [
    "GroupConflictError",
    "add_manual_grade",
    "audit",
    "can_see",
    "claim_next_run",
    "claim_run",
    "count_recent",
    "create_submission",
    "create_user",
    "current_run",
    "delete_group",
    "enqueue_run",
    "ensure_blob",
    "find_idempotent",
    "finish_run",
    "get_group",
    "get_policy",
    "group_of",
    "heartbeat",
    "list_groups",
    "list_submissions",
    "live_workers",
    "manual_grades",
    "owners",
    "queue_depth",
    "queue_position",
    "release_for_retry",
    "renew_lease",
    "requeue_expired",
    "runs_with_status",
    "set_group",
    "user_by_name",
    "user_by_token",
]
