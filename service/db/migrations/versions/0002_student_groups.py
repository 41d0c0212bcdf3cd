"""student groups: groups per assignment, their members, the group of a submission

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 04:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'student_groups',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('assignment_id', sa.String(length=100), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('assignment_id', 'name', name='uq_group_name'),
    )
    op.create_index(op.f('ix_student_groups_assignment_id'), 'student_groups',
                    ['assignment_id'], unique=False)
    op.create_table(
        'group_members',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('group_id', sa.String(length=32), nullable=False),
        sa.Column('assignment_id', sa.String(length=100), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['group_id'], ['student_groups.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('assignment_id', 'user_id', name='uq_group_member'),
    )
    op.create_index(op.f('ix_group_members_group_id'), 'group_members', ['group_id'],
                    unique=False)
    # batch mode: SQLite cannot add a foreign key to an existing table in place
    with op.batch_alter_table('submissions') as batch:
        batch.add_column(sa.Column('group_id', sa.String(length=32), nullable=True))
        batch.create_index(batch.f('ix_submissions_group_id'), ['group_id'], unique=False)
        batch.create_foreign_key('fk_submissions_group_id', 'student_groups', ['group_id'],
                                 ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('submissions') as batch:
        batch.drop_constraint('fk_submissions_group_id', type_='foreignkey')
        batch.drop_index(batch.f('ix_submissions_group_id'))
        batch.drop_column('group_id')
    op.drop_index(op.f('ix_group_members_group_id'), table_name='group_members')
    op.drop_table('group_members')
    op.drop_index(op.f('ix_student_groups_assignment_id'), table_name='student_groups')
    op.drop_table('student_groups')
