"""per-student extensions and accommodations

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 14:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'extensions',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('assignment_id', sa.String(length=100), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.Column('deadline', sa.DateTime(), nullable=False),
        sa.Column('waive_late_policy', sa.Boolean(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('granted_by', sa.String(length=32), nullable=False),
        sa.Column('granted_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.ForeignKeyConstraint(['granted_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('assignment_id', 'user_id', name='uq_extension'),
    )
    op.create_index('ix_extensions_assignment_id', 'extensions', ['assignment_id'])


def downgrade() -> None:
    op.drop_index('ix_extensions_assignment_id', table_name='extensions')
    op.drop_table('extensions')
