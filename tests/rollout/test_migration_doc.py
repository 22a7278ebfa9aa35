"""docs/migration.md carries the current mock-vs-real differences table."""

from scripts.update_migration_doc import DOC, with_current_table


def test_differences_table_is_current():
    text = DOC.read_text()
    assert with_current_table(text) == text, "run: python scripts/update_migration_doc.py"
    assert "| 1 | Node exporter" in text and "| 4 | vLLM server" in text
