"""LTI 1.3: platforms, accounts, links, members, the score outbox, login state, and
sign-in sessions that are not API tokens

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 19:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'sessions',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('token_hash'),
    )
    op.create_index('ix_sessions_user_id', 'sessions', ['user_id'])
    op.create_table(
        'lti_platforms',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('issuer', sa.String(length=500), nullable=False),
        sa.Column('client_id', sa.String(length=255), nullable=False),
        sa.Column('deployment_ids', sa.JSON(), nullable=False),
        sa.Column('auth_login_url', sa.String(length=1000), nullable=False),
        sa.Column('auth_token_url', sa.String(length=1000), nullable=False),
        sa.Column('key_set_url', sa.String(length=1000), nullable=False),
        sa.Column('staff_contexts', sa.JSON(), nullable=False),
        sa.Column('frame_origins', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('issuer', 'client_id', name='uq_lti_platform'),
    )
    op.create_table(
        'lti_accounts',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('platform_id', sa.Integer(), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('platform_id', 'subject', name='uq_lti_account'),
    )
    op.create_index('ix_lti_accounts_user_id', 'lti_accounts', ['user_id'])
    op.create_table(
        'lti_links',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('platform_id', sa.Integer(), nullable=False),
        sa.Column('deployment_id', sa.String(length=255), nullable=False),
        sa.Column('context_id', sa.String(length=255), nullable=False),
        sa.Column('context_title', sa.String(length=255), nullable=False),
        sa.Column('resource_link_id', sa.String(length=255), nullable=False),
        sa.Column('assignment_id', sa.String(length=100), nullable=False),
        sa.Column('ags_scopes', sa.JSON(), nullable=False),
        sa.Column('lineitems_url', sa.String(length=1000), nullable=True),
        sa.Column('lineitem_url', sa.String(length=1000), nullable=True),
        sa.Column('memberships_url', sa.String(length=1000), nullable=True),
        sa.Column('groups_url', sa.String(length=1000), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('platform_id', 'deployment_id', 'resource_link_id',
                            name='uq_lti_link'),
    )
    op.create_index('ix_lti_links_assignment_id', 'lti_links', ['assignment_id'])
    op.create_table(
        'lti_members',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('platform_id', sa.Integer(), nullable=False),
        sa.Column('context_id', sa.String(length=255), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=False),
        sa.Column('learner', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['platform_id'], ['lti_platforms.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('platform_id', 'context_id', 'user_id', name='uq_lti_member'),
    )
    op.create_index('ix_lti_members_user_id', 'lti_members', ['user_id'])
    op.create_table(
        'lti_scores',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('link_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=False),
        sa.Column('score_given', sa.Float(), nullable=False),
        sa.Column('score_maximum', sa.Float(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('grading_progress', sa.String(length=20), nullable=False),
        sa.Column('submitted_at', sa.DateTime(), nullable=False),
        sa.Column('scored_at', sa.DateTime(), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('sent_at', sa.DateTime(), nullable=True),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['link_id'], ['lti_links.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('link_id', 'user_id', name='uq_lti_score'),
    )
    op.create_index('ix_lti_scores_status_due', 'lti_scores', ['status', 'next_attempt_at'])
    op.create_table(
        'lti_state',
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('value', sa.JSON(), nullable=False),
        sa.Column('expires_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )
    op.create_index('ix_lti_state_expires_at', 'lti_state', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_lti_state_expires_at', table_name='lti_state')
    op.drop_table('lti_state')
    op.drop_index('ix_lti_scores_status_due', table_name='lti_scores')
    op.drop_table('lti_scores')
    op.drop_index('ix_lti_members_user_id', table_name='lti_members')
    op.drop_table('lti_members')
    op.drop_index('ix_lti_links_assignment_id', table_name='lti_links')
    op.drop_table('lti_links')
    op.drop_index('ix_lti_accounts_user_id', table_name='lti_accounts')
    op.drop_table('lti_accounts')
    op.drop_table('lti_platforms')
    op.drop_index('ix_sessions_user_id', table_name='sessions')
    op.drop_table('sessions')
