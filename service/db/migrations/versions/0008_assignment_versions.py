"""assignment versions staff publish without a restart

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 17:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'assignment_versions',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('assignment_id', sa.String(length=100), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('blob_sha256', sa.String(length=64), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('spec_version', sa.String(length=20), nullable=True),
        sa.Column('title', sa.String(length=300), nullable=True),
        sa.Column('problems', sa.JSON(), nullable=False),
        sa.Column('reference_points', sa.Float(), nullable=True),
        sa.Column('blank_points', sa.Float(), nullable=True),
        sa.Column('autograded_points', sa.Float(), nullable=True),
        sa.Column('uploaded_by', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('validated_at', sa.DateTime(), nullable=True),
        sa.Column('live_since', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['blob_sha256'], ['blobs.sha256']),
        sa.ForeignKeyConstraint(['uploaded_by'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('assignment_id', 'number', name='uq_version_number'),
    )
    op.create_index('ix_assignment_versions_assignment_id', 'assignment_versions',
                    ['assignment_id'])


def downgrade() -> None:
    op.drop_index('ix_assignment_versions_assignment_id', table_name='assignment_versions')
    op.drop_table('assignment_versions')
