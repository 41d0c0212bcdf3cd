"""scale-out: blobs in the database, worker heartbeats per queue, lease-expiry counts

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 15:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'blob_chunks',
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('sha256', 'seq'),
    )
    op.create_table(
        'worker_heartbeats',
        sa.Column('worker_id', sa.String(length=200), nullable=False),
        sa.Column('queue', sa.String(length=20), nullable=False),
        sa.Column('gpu', sa.String(length=20), nullable=True),
        sa.Column('seen_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('worker_id', 'queue'),
    )
    with op.batch_alter_table('grading_runs') as batch:
        batch.add_column(sa.Column('lease_expiries', sa.Integer(), nullable=False,
                                   server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('grading_runs') as batch:
        batch.drop_column('lease_expiries')
    op.drop_table('worker_heartbeats')
    op.drop_table('blob_chunks')
