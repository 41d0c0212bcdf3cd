"""rubric items for grading a question across submissions

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 11:40:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rubric_items',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('assignment_id', sa.String(length=100), nullable=False),
        sa.Column('question_id', sa.String(length=50), nullable=False),
        sa.Column('points', sa.Float(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('created_by', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['created_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_rubric_items_assignment_id', 'rubric_items', ['assignment_id'])
    op.create_table(
        'rubric_applications',
        sa.Column('item_id', sa.String(length=32), nullable=False),
        sa.Column('submission_id', sa.String(length=32), nullable=False),
        sa.Column('applied_by', sa.String(length=32), nullable=False),
        sa.Column('applied_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['item_id'], ['rubric_items.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['submission_id'], ['submissions.id']),
        sa.ForeignKeyConstraint(['applied_by'], ['users.id']),
        sa.PrimaryKeyConstraint('item_id', 'submission_id'),
    )
    op.create_index('ix_rubric_applications_submission_id', 'rubric_applications',
                    ['submission_id'])


def downgrade() -> None:
    op.drop_index('ix_rubric_applications_submission_id', table_name='rubric_applications')
    op.drop_table('rubric_applications')
    op.drop_index('ix_rubric_items_assignment_id', table_name='rubric_items')
    op.drop_table('rubric_items')
