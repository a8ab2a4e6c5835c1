"""Full-text search of agents: an FTS5 table on SQLite, a tsvector column with a GIN index on
PostgreSQL; both filled from the agents that exist."""

import django.contrib.postgres.search
from django.db import migrations

from registry.models import search


def create_search_index(apps, schema_editor):
    connection = schema_editor.connection
    search.create_index(connection)
    Agent = apps.get_model("registry", "Agent")
    rows = (
        Agent.objects.filter(live_version__isnull=False)
        .values_list("pk", "name", "live_version__text")
        .iterator(chunk_size=500)
    )
    batch = []
    for pk, name, text in rows:
        description, body = search.document_fields(text)
        batch.append((pk, name, description, body))
        if len(batch) >= 500:
            search.write_index(connection, batch)
            batch = []
    search.write_index(connection, batch)


def drop_search_index(apps, schema_editor):
    search.drop_index(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("registry", "0003_roles"),
    ]

    operations = [
        migrations.AddField(
            model_name="agent",
            name="search_vector",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.RunPython(create_search_index, drop_search_index),
    ]
