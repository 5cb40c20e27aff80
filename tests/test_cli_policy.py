"""`rightsdesk policy add|list|publish|campaigns` run in the app's context, like every command
of the group: the runner pushes none, as the installed ``rightsdesk`` script does not."""

from __future__ import annotations

from pathlib import Path


def test_a_draft_is_added_listed_and_refused_publication_in_one_line(runner, tmp_path: Path):
    text = tmp_path / "policy.ko.md"
    text.write_text("# 개인정보 처리방침\n\n내용\n", encoding="utf-8")

    added = runner.invoke(
        args=["policy", "add", "--ko", str(text), "--change", "minor", "--effective", "2031-01-01"]
    )
    assert added.exit_code == 0, added.output
    assert "2031-01-01, minor, effective 2031-01-01" in added.output

    listed = runner.invoke(args=["policy", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output == "2031-01-01\tminor\t2031-01-01\tdraft\n"

    unknown = runner.invoke(args=["policy", "publish", "nope"])
    assert unknown.exit_code == 2, unknown.output
    assert "no version labelled 'nope'" in unknown.output

    campaigns = runner.invoke(args=["policy", "campaigns"])
    assert campaigns.exit_code == 0, campaigns.output
    assert campaigns.output == ""
