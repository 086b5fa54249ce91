# Content library: items, versions, review, series, program rules, PHI terms, tracked links.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('audience', '0004_indexes_for_segments_and_writes'),
        ('consent', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='PhiTerm',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('term', models.CharField(max_length=80, unique=True)),
                ('category', models.CharField(choices=[('test', 'Test'), ('diagnosis', 'Diagnosis'), ('drug', 'Drug')], max_length=10)),
                ('created_at', models.DateTimeField()),
            ],
            options={
                'ordering': ['term'],
            },
        ),
        migrations.CreateModel(
            name='ContentItem',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.SlugField(max_length=80, unique=True)),
                ('title', models.CharField(max_length=200)),
                ('kind', models.CharField(choices=[('podcast_episode', 'Podcast episode'), ('article', 'Article'), ('dosing_update', 'Dosing update'), ('formulary_update', 'Formulary update'), ('meeting_invite', 'Meeting invite'), ('reminder', 'Reminder'), ('survey', 'Survey'), ('health_tip', 'Health tip'), ('result_ready', 'Result-ready notice')], max_length=20)),
                ('episode_number', models.PositiveIntegerField(blank=True, null=True)),
                ('created_at', models.DateTimeField()),
                ('updated_at', models.DateTimeField()),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('program', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='consent.program')),
            ],
            options={
                'ordering': ['title', 'id'],
            },
        ),
        migrations.CreateModel(
            name='ContentVersion',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('number', models.PositiveIntegerField()),
                ('status', models.CharField(choices=[('draft', 'Draft'), ('in_review', 'In review'), ('approved', 'Approved'), ('expired', 'Expired'), ('withdrawn', 'Withdrawn')], default='draft', max_length=10)),
                ('media_url', models.URLField(blank=True, max_length=500)),
                ('promotional', models.BooleanField(default=False)),
                ('brand_name', models.CharField(blank=True, max_length=120)),
                ('generic_name', models.CharField(blank=True, max_length=160)),
                ('serious_risks', models.TextField(blank=True)),
                ('safety_info_url', models.URLField(blank=True, max_length=500)),
                ('contact_kinds', models.JSONField(blank=True, default=list)),
                ('specialties', models.JSONField(blank=True, default=list)),
                ('pediatric', models.BooleanField(default=False)),
                ('languages', models.JSONField(blank=True, default=list)),
                ('territories', models.JSONField(blank=True, default=list)),
                ('phi_channels', models.JSONField(blank=True, default=list)),
                ('created_at', models.DateTimeField()),
                ('updated_at', models.DateTimeField()),
                ('submitted_at', models.DateTimeField(blank=True, null=True)),
                ('review_code', models.CharField(blank=True, max_length=60)),
                ('review_comments', models.TextField(blank=True)),
                ('reviewed_at', models.DateTimeField(blank=True, null=True)),
                ('valid_from', models.DateTimeField(blank=True, null=True)),
                ('valid_until', models.DateTimeField(blank=True, null=True)),
                ('retired_at', models.DateTimeField(blank=True, null=True)),
                ('retired_reason', models.CharField(blank=True, max_length=300)),
                ('based_on', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='content.contentversion')),
                ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('item', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='versions', to='content.contentitem')),
                ('retired_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('reviewer', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('submitted_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['item_id', '-number'],
            },
        ),
        migrations.CreateModel(
            name='ContentBody',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('channel', models.CharField(choices=[('sms', 'Text message'), ('email', 'Email'), ('voice', 'Voice call'), ('letter', 'Letter')], max_length=8)),
                ('language', models.CharField(max_length=35)),
                ('subject', models.CharField(blank=True, max_length=200)),
                ('text', models.TextField()),
                ('html', models.TextField(blank=True)),
                ('version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='bodies', to='content.contentversion')),
            ],
            options={
                'ordering': ['channel', 'language'],
            },
        ),
        migrations.CreateModel(
            name='ProgramPolicy',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('sms_footer_required', models.BooleanField(default=True)),
                ('sms_segment_limit', models.PositiveSmallIntegerField(default=3)),
                ('postal_address', models.TextField(blank=True)),
                ('phi_to_accepted_channels', models.BooleanField(default=False)),
                ('updated_at', models.DateTimeField()),
                ('program', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='content_policy', to='consent.program')),
            ],
        ),
        migrations.CreateModel(
            name='ReviewEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('action', models.CharField(choices=[('created', 'Created'), ('submitted', 'Submitted for review'), ('recalled', 'Recalled to draft'), ('changes_requested', 'Changes requested'), ('approved', 'Approved'), ('withdrawn', 'Withdrawn'), ('expired', 'Expired')], max_length=20)),
                ('actor_label', models.CharField(max_length=150)),
                ('at', models.DateTimeField()),
                ('comments', models.TextField(blank=True)),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='events', to='content.contentversion')),
            ],
            options={
                'ordering': ['at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='Series',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('code', models.SlugField(max_length=60, unique=True)),
                ('name', models.CharField(max_length=120)),
                ('description', models.TextField(blank=True)),
                ('created_at', models.DateTimeField()),
                ('updated_at', models.DateTimeField()),
                ('program', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='consent.program')),
            ],
            options={
                'verbose_name_plural': 'series',
                'ordering': ['name'],
            },
        ),
        migrations.AddField(
            model_name='contentitem',
            name='series',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='episodes', to='content.series'),
        ),
        migrations.CreateModel(
            name='TrackedLink',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('token', models.CharField(max_length=32, unique=True)),
                ('message_key', models.CharField(max_length=200)),
                ('position', models.PositiveSmallIntegerField()),
                ('url', models.TextField()),
                ('created_at', models.DateTimeField()),
                ('delivered_at', models.DateTimeField(blank=True, null=True)),
                ('contact', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='audience.contact')),
                ('version', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='links', to='content.contentversion')),
            ],
        ),
        migrations.CreateModel(
            name='LinkClick',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField()),
                ('kind', models.CharField(choices=[('human', 'Person'), ('head', 'HEAD request'), ('scanner', 'Known scanner'), ('prefetch', 'Prefetch')], max_length=10)),
                ('method', models.CharField(max_length=8)),
                ('user_agent', models.CharField(blank=True, max_length=300)),
                ('available', models.BooleanField(default=True)),
                ('link', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='clicks', to='content.trackedlink')),
            ],
        ),
        migrations.AddIndex(
            model_name='contentversion',
            index=models.Index(fields=['status', 'valid_until'], name='content_con_status_96de54_idx'),
        ),
        migrations.AddConstraint(
            model_name='contentversion',
            constraint=models.UniqueConstraint(fields=('item', 'number'), name='content_version_number_once'),
        ),
        migrations.AddConstraint(
            model_name='contentversion',
            constraint=models.UniqueConstraint(condition=models.Q(('status__in', ['draft', 'in_review'])), fields=('item',), name='content_one_open_version_per_item'),
        ),
        migrations.AddConstraint(
            model_name='contentversion',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['draft', 'in_review', 'approved', 'expired', 'withdrawn'])), name='content_version_status_valid'),
        ),
        migrations.AddConstraint(
            model_name='contentversion',
            constraint=models.CheckConstraint(condition=models.Q(('valid_from__isnull', True), ('valid_until__isnull', True), ('valid_until__gt', models.F('valid_from')), _connector='OR'), name='content_validity_window_ordered'),
        ),
        migrations.AddConstraint(
            model_name='contentbody',
            constraint=models.UniqueConstraint(fields=('version', 'channel', 'language'), name='content_body_once'),
        ),
        migrations.AddConstraint(
            model_name='contentitem',
            constraint=models.CheckConstraint(condition=models.Q(('kind__in', ['podcast_episode', 'article', 'dosing_update', 'formulary_update', 'meeting_invite', 'reminder', 'survey', 'health_tip', 'result_ready'])), name='content_item_kind_valid'),
        ),
        migrations.AddConstraint(
            model_name='contentitem',
            constraint=models.UniqueConstraint(fields=('series', 'episode_number'), name='content_episode_once_per_series'),
        ),
        migrations.AddConstraint(
            model_name='contentitem',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('episode_number__isnull', True), ('series__isnull', True)), models.Q(('episode_number__isnull', False), ('series__isnull', False)), _connector='OR'), name='content_episode_number_with_series'),
        ),
        migrations.AddIndex(
            model_name='trackedlink',
            index=models.Index(fields=['message_key'], name='content_tra_message_000573_idx'),
        ),
        migrations.AddConstraint(
            model_name='trackedlink',
            constraint=models.UniqueConstraint(fields=('message_key', 'position'), name='tracked_link_once_per_message'),
        ),
        migrations.AddIndex(
            model_name='linkclick',
            index=models.Index(fields=['link', 'at'], name='content_lin_link_id_2d88f2_idx'),
        ),
        migrations.AddIndex(
            model_name='linkclick',
            index=models.Index(fields=['kind', 'at'], name='content_lin_kind_1dbb72_idx'),
        ),
    ]
