"""students' review requests and the window for them; blind grading; leaderboards

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 14:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('assignment_policies') as batch:
        batch.add_column(sa.Column('review_until', sa.DateTime(), nullable=True))
        batch.add_column(sa.Column('blind_grading', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column('leaderboard', sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
    op.create_table(
        'review_requests',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('submission_id', sa.String(length=32), nullable=False),
        sa.Column('assignment_id', sa.String(length=100), nullable=False),
        sa.Column('question_id', sa.String(length=50), nullable=False),
        sa.Column('student_id', sa.String(length=32), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('answer', sa.Text(), nullable=True),
        sa.Column('override', sa.Float(), nullable=True),
        sa.Column('answered_by', sa.String(length=32), nullable=True),
        sa.Column('answered_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['submission_id'], ['submissions.id']),
        sa.ForeignKeyConstraint(['student_id'], ['users.id']),
        sa.ForeignKeyConstraint(['answered_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('submission_id', 'question_id', name='uq_review'),
    )
    op.create_index('ix_review_requests_submission_id', 'review_requests', ['submission_id'])
    op.create_index('ix_review_requests_assignment_id', 'review_requests', ['assignment_id'])


def downgrade() -> None:
    op.drop_index('ix_review_requests_assignment_id', table_name='review_requests')
    op.drop_index('ix_review_requests_submission_id', table_name='review_requests')
    op.drop_table('review_requests')
    with op.batch_alter_table('assignment_policies') as batch:
        batch.drop_column('leaderboard')
        batch.drop_column('blind_grading')
        batch.drop_column('review_until')
