"""the questions a leaderboard shows (null: every accuracy question)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 18:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('assignment_policies') as batch:
        batch.add_column(sa.Column('leaderboard_questions', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('assignment_policies') as batch:
        batch.drop_column('leaderboard_questions')
