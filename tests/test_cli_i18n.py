"""The command line in French and English (pipeline/messages.py): complete, reviewed catalogues; the rule
that picks the language; and what an agent sees, French by default, English when asked."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import pytest
from catalogkit import Catalogues, fields
from contentrepo import EDITOR, make_repo

from gate.i18n import translations
from pipeline import messages
from pipeline.findings import CODES, HINTS

ROOT = messages.LOCALES.parent.parent


CATALOGUES = Catalogues("pipeline", messages.LOCALES, messages.DOMAIN)
extracted = CATALOGUES.extracted


def say(language: str, msgid: str) -> str:
    return translations(language, messages.DOMAIN, messages.LOCALES).gettext(msgid)


# --- the catalogues --------------------------------------------------------------------------------

def test_the_extraction_finds_the_command_line_messages():
    """The checks below would pass on an empty extraction: make sure it reads the real source."""
    found = extracted()
    assert {"unknown key '{key}'", "Usage:", "Output format.", "stale approval",
            "file is not valid UTF-8"} <= set(found)
    assert ("{n} error", "{n} errors") in found


@pytest.mark.parametrize("language", messages.LANGUAGES)
def test_every_message_is_translated_reviewed_and_current(language):
    CATALOGUES.assert_complete(language)


@pytest.mark.parametrize("language", messages.LANGUAGES)
def test_translations_keep_the_placeholders_of_their_message(language):
    CATALOGUES.assert_placeholders_kept(language)


def test_every_message_formatted_in_code_is_given_exactly_its_placeholders():
    """``_("… {path} …").format(path=…)``: a placeholder the call does not give is a KeyError at run
    time, on the error path a test may never take; one given but not in the message is a lost detail."""
    import ast

    wrong = []
    for path in sorted((ROOT / "pipeline").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"):
                continue
            message = node.func.value
            if not (isinstance(message, ast.Call) and isinstance(message.func, ast.Name)
                    and message.func.id in ("_", "ngettext")) or any(k.arg is None for k in node.keywords):
                continue
            given = {k.arg for k in node.keywords}
            for text in message.args[:2]:
                if isinstance(text, ast.Constant) and fields(text.value) != given:
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno}: {fields(text.value)} != {given}")
    assert not wrong, "\n".join(wrong)


def test_every_check_code_has_a_french_title_and_hint():
    """The findings are what an agent reads most: each code's title and default hint exists in French,
    and is not the English text left in place."""
    for code, (_severity, title) in CODES.items():
        assert say("fr", title) != title, code
        assert say("en", title) == title, code
    for code, hint in HINTS.items():
        assert say("fr", hint) != hint, code


# --- which language ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("environment", "expected"), [
    ({}, "fr"),
    ({"LANG": "C.UTF-8"}, "fr"),
    ({"LANG": "de_DE.UTF-8"}, "fr"),
    ({"LANG": "en_GB.UTF-8"}, "en"),
    ({"LANG": "fr_FR.UTF-8"}, "fr"),
    ({"LC_ALL": "en_US.UTF-8", "LANG": "fr_FR.UTF-8"}, "en"),
    ({"LC_MESSAGES": "fr_CA.UTF-8", "LANG": "en_GB.UTF-8"}, "fr"),
    ({"DIPLOMATIE_LANG": "en", "LANG": "fr_FR.UTF-8"}, "en"),
    ({"DIPLOMATIE_LANG": "fr", "LC_ALL": "en_GB.UTF-8"}, "fr"),
    ({"DIPLOMATIE_LANG": "de", "LANG": "en_GB.UTF-8"}, "en"),  # not one of ours: as if unset
    ({"DIPLOMATIE_LANG": "EN"}, "fr"),
])
def test_the_language_comes_from_the_environment_else_french(no_language_chosen, monkeypatch, environment,
                                                               expected):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert messages.language() == expected


@pytest.fixture
def repo(tmp_path):
    r = make_repo(tmp_path / "repo")
    r.cable("2026-BERLIN-0001")
    return r


def test_lang_option_beats_the_environment(repo, no_language_chosen, monkeypatch):
    monkeypatch.setenv("DIPLOMATIE_LANG", "fr")
    assert repo.run("--lang", "en", "check").stdout.splitlines()[-1] == "0 errors, 2 warnings"
    monkeypatch.setenv("DIPLOMATIE_LANG", "en")
    assert repo.run("--lang", "fr", "check").stdout.splitlines()[-1] == "0 erreur, 2 avertissements"
    # --lang lasts one run: the next follows the environment again
    assert repo.run("check").stdout.splitlines()[-1] == "0 errors, 2 warnings"


def test_a_shell_with_no_language_gets_french_and_an_english_locale_gets_english(repo, no_language_chosen):
    def check(**env):
        return subprocess.run([sys.executable, "-m", "pipeline", "check", "--root", str(repo.root), "--strict"],
                              capture_output=True, text=True, env={**os.environ, **env})

    french = check()
    assert french.stdout.splitlines()[-1] == "0 erreur, 2 avertissements"
    assert "W605 la communauté « energie » compte les approbations non signées" in french.stdout
    english = check(LANG="en_GB.UTF-8")
    assert english.stdout.splitlines()[-1] == "0 errors, 2 warnings"
    assert "W605 community 'energie' counts unsigned approvals" in english.stdout


# --- what an agent sees ------------------------------------------------------------------------------

def test_a_finding_reads_in_french_by_default_and_in_english_when_asked(repo, no_language_chosen):
    repo.write("content/2026/2026-BERLIN-0002.md",
               repo.root.joinpath("content/2026/2026-BERLIN-0001.md").read_text(encoding="utf-8")
               .replace("2026-BERLIN-0001", "2026-BERLIN-0002").replace("title:", "titel:"))
    french = repo.run("check")
    assert french.code == 1
    assert ("content/2026/2026-BERLIN-0002.md:3:1: E202 clé inconnue, « titel »\n"
            "    conseil : vouliez-vous dire « title » ?") in french.stdout
    assert "E201 clé obligatoire « title » absente" in french.stdout
    assert french.stdout.splitlines()[-1] == "2 erreurs, 2 avertissements"
    english = repo.run("--lang", "en", "check")
    assert ("content/2026/2026-BERLIN-0002.md:3:1: E202 unknown key 'titel'\n"
            "    hint: did you mean 'title'?") in english.stdout
    assert english.stdout.splitlines()[-1] == "2 errors, 2 warnings"


def test_codes_places_and_json_keys_are_the_same_in_both_languages(repo, no_language_chosen):
    """Tools rely on the codes and the JSON's shape; only the words a person reads change."""
    repo.cable("2026-BERLIN-0002", classification="SECRET", date="2026-02-30", subjects=["énergie"])
    repo.write("content/2026/notes.txt", "brouillon\n")
    french = json.loads(repo.run("check", "--format", "json").stdout)
    english = json.loads(repo.run("--lang", "en", "check", "--format", "json").stdout)
    where = [(f["path"], f["line"], f["col"], f["code"], f["severity"]) for f in french["findings"]]
    assert where == [(f["path"], f["line"], f["col"], f["code"], f["severity"]) for f in english["findings"]]
    assert {"E104", "E206", "E301"} <= {code for *_, code, _ in where}
    assert [set(f) for f in french["findings"]] == [set(f) for f in english["findings"]]
    assert (french["errors"], french["warnings"]) == (english["errors"], english["warnings"])
    assert all(f["message"] != e["message"] for f, e in zip(french["findings"], english["findings"], strict=True))
    classified = next(f for f in french["findings"] if f["code"] == "E301")
    assert "seuls les télégrammes non classifiés peuvent être publiés" in classified["message"]


def test_the_plan_says_why_a_cable_is_held_in_french_while_its_json_stays_english(repo, no_language_chosen):
    french = repo.run("plan")
    assert "retenu   2026-BERLIN-0001  non approuvé" in french.stdout
    assert "energie — Énergie en Europe : 0 à publier, 1 retenu(s)" in french.stdout
    english = repo.run("--lang", "en", "plan")
    assert "held     2026-BERLIN-0001  not approved" in english.stdout
    for run in (repo.run("plan", "--format", "json"), repo.run("--lang", "en", "plan", "--format", "json")):
        held = json.loads(run.stdout)["communities"]["energie"]["held"]
        assert held == [{"id": "2026-BERLIN-0001", "reason": "not approved"}]


def test_a_refusal_and_a_confirmation_read_in_french(repo, no_language_chosen):
    refused = repo.run("approve", "2026-BERLIN-0001", "--community", "energie", "--editor", "intrus@example.org",
                       "--yes")
    assert refused.code == 1
    assert "Erreur : intrus@example.org n'est pas éditeur de la communauté « energie »" in refused.stderr
    repo.commit("first")
    done = repo.run("approve", "2026-BERLIN-0001", "--community", "energie", "--editor", EDITOR, "--yes")
    assert done.code == 0, done.output
    assert f"content/2026/2026-BERLIN-0001.md : approuvé pour energie par {EDITOR}" in done.stdout
    pending = repo.run("--lang", "en", "pending", "--editor", EDITOR)
    assert "0 cables await approval by" in pending.stdout
    assert "0 télégramme attend l'approbation de" in repo.run("pending", "--editor", EDITOR).stdout


def test_help_and_usage_errors_follow_the_language(repo, no_language_chosen):
    french = repo.run("check", "--help")
    assert "Vérifie les télégrammes et communities.yaml" in french.stdout
    assert "Échoue aussi sur les avertissements" in french.stdout
    assert "Affiche ce message et quitte." in french.stdout
    assert french.stdout.startswith("Usage :")
    english = repo.run("--lang", "en", "check", "--help")
    assert "Check cables and communities.yaml" in english.stdout
    assert "Show this message and exit." in english.stdout
    typo = repo.run("chek")
    assert typo.code == 2
    assert "Erreur : Pas de commande 'chek'." in typo.stderr


def test_a_held_reason_keeps_its_msgid_across_processes():
    """A plan's reason is English data (JSON, comparisons) that is translated where it is shown; it
    crosses process boundaries (parallel builds) with its msgid and fields."""
    reason = messages.Message(messages.N_("embargoed until {when}"), when="2026-12-01T09:00:00Z")
    assert reason == "embargoed until 2026-12-01T09:00:00Z"
    copy = pickle.loads(pickle.dumps(reason))
    assert (copy, copy.msgid, copy.fields) == (reason, reason.msgid, reason.fields)
    messages.use("fr")
    try:
        assert messages.shown(copy) == "sous embargo jusqu'au 2026-12-01T09:00:00Z"
    finally:
        messages.use(None)


# --- YAML mistakes in plain words, each once ------------------------------------------------------

PLAIN_YAML = [
    # (what the agent typed in place of a line of the template, code, French message, French hint)
    (("title: Sécurité énergétique", "title: Énergie : la transition"), "E106",
     "un deux-points suivi d'une espace dans une valeur : YAML le lit comme une seconde clé sur la même ligne",
     'mettez toute la valeur entre guillemets droits doubles, p. ex. title: "Énergie : la transition"'),
    (("post: BERLIN", "\tpost: BERLIN"), "E106", "une tabulation : YAML n'indente qu'avec des espaces",
     "remplacez la tabulation par des espaces"),
    (("title: Sécurité énergétique", 'title: "Sécurité énergétique'), "E106",
     "un guillemet est ouvert et jamais fermé", "fermez le guillemet à la fin de la valeur, ou retirez-le"),
    (("date: 2026-03-14", "date: 2026-02-30"), "E204", "« date » : 2026-02-30 n'est pas une date du calendrier",
     "vérifiez le jour et le mois : le 2026-02-30 n'existe pas"),
    (("subjects: [energie]", "subjects: [Énergie]"), "E206",
     "« subjects » contient 'Énergie', qui n'est pas un identifiant en minuscules",
     "écrivez plutôt 'energie' : lettres minuscules sans accent, chiffres et tirets"),
    (("subjects: [energie]", "subjects: energie, hydrogène"), "E203", "« subjects » doit être une liste",
     "écrivez subjects: [energie, hydrogene]"),
]


@pytest.mark.parametrize(("edit", "code", "message", "hint"), PLAIN_YAML)
def test_a_yaml_mistake_is_explained_in_plain_words_and_reported_once(repo, no_language_chosen, edit, code,
                                                                      message, hint):
    path = repo.root / "content/2026/2026-BERLIN-0001.md"
    text = path.read_text(encoding="utf-8")
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1]), encoding="utf-8")
    findings = json.loads(repo.run("check", "--format", "json").stdout)["findings"]
    errors = [f for f in findings if f["severity"] == "error"]
    assert [(f["code"], f["message"], f["hint"]) for f in errors] == [(code, message, hint)]
    english = json.loads(repo.run("--lang", "en", "check", "--format", "json").stdout)["findings"]
    assert [f["code"] for f in english if f["severity"] == "error"] == [code]


@pytest.mark.parametrize(("language", "answer", "asked", "goes_on"), [
    ("fr", "o\n", "Approuver ? [o/N] ", True),
    ("fr", "oui\n", "Approuver ? [o/N] ", True),
    ("fr", "\n", "Approuver ? [o/N] ", False),
    ("fr", "non\n", "Approuver ? [o/N] ", False),
    ("en", "y\n", "Approve? [y/N] ", True),
    ("en", "n\n", "Approve? [y/N] ", False),
])
def test_a_confirmation_is_asked_and_answered_in_the_language_of_the_run(no_language_chosen, language, answer,
                                                                         asked, goes_on):
    """approve's question at a terminal: a French agent answers o or oui; no answer is no."""
    import click
    from click.testing import CliRunner

    from pipeline.commands import clicktext
    from pipeline.commands.options import confirm

    clicktext.install()  # as the diplomatie group does at every run: click's own words from our catalogue

    @click.command()
    def ask() -> None:
        messages.use(language)
        confirm("Approuver ?" if language == "fr" else "Approve?")
        click.echo("approved")

    result = CliRunner().invoke(ask, input=answer)
    messages.use(None)
    assert result.stdout.startswith(asked)
    assert ("approved" in result.stdout) is goes_on
    assert result.exit_code == (0 if goes_on else 1)
    if not goes_on:
        assert ("Abandon !" if language == "fr" else "Aborted!") in result.output
