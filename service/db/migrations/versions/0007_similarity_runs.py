"""similarity runs: pairwise comparison of an assignment's hand-ins

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 17:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'similarity_runs',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('assignment_id', sa.String(length=100), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('requested_by', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.Column('submissions', sa.Integer(), nullable=False),
        sa.Column('compared', sa.Integer(), nullable=False),
        sa.Column('pairs', sa.JSON(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['requested_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_similarity_runs_assignment_id', 'similarity_runs', ['assignment_id'])


def downgrade() -> None:
    op.drop_index('ix_similarity_runs_assignment_id', table_name='similarity_runs')
    op.drop_table('similarity_runs')
