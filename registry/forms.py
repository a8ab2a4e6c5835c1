"""Every form of the registry's pages: the agent list's filters, the import upload, API tokens.

The editor's form is registry/editor.py."""

from django import forms
from django.core.exceptions import ValidationError

from registry import editor
from registry.models import ApiToken
from registry.sync.files import PathTooLong, UnsafePath, check_length, clean_relative_path
from registry.sync.uploads import UploadError, read_uploads


class AgentListFilters(forms.Form):
    """The agent list's search, filters and sort, from the query string."""

    STATUSES = [
        ("", "Any status"),
        ("valid", "Valid"),
        ("errors", "With errors"),
        ("warnings", "With warnings"),
        ("open", "With an open change"),
    ]
    # "relevance" orders a search's results by how well they match; without a search, by name.
    SORTS = [("relevance", "Best match"), ("name", "Name"), ("changed", "Last change")]

    q = forms.CharField(required=False)
    category = forms.CharField(required=False)
    status = forms.ChoiceField(choices=STATUSES, required=False)
    sort = forms.ChoiceField(choices=SORTS, required=False)
    archived = forms.BooleanField(required=False)
    problem = forms.RegexField(regex=r"\A[a-z0-9-]{1,40}\Z", required=False)

    def chosen(self) -> dict:
        """The valid values, with defaults for missing or invalid ones."""
        self.is_valid()
        data = self.cleaned_data
        query = (data.get("q") or "").strip()
        return {
            "q": query,
            "category": data.get("category") or "",
            "status": data.get("status") or "",
            "sort": data.get("sort") or ("relevance" if query else "name"),
            "archived": bool(data.get("archived")),
            "problem": data.get("problem") or "",
        }


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class UploadedFilesField(forms.Field):
    """Any number of uploaded files, as a list; what they hold is checked by read_uploads."""

    widget = MultipleFileInput

    def to_python(self, data):
        if not data:
            return []
        return [item for item in (data if isinstance(data, list | tuple) else [data]) if item]


class ImportUploadForm(forms.Form):
    files = UploadedFilesField(
        label="Agent files",
        error_messages={"required": "Choose one or more .md files, or one .zip."},
        widget=MultipleFileInput(attrs={"accept": ".md,.zip,text/markdown,application/zip"}),
    )
    folder = forms.CharField(
        label="Folder in the repository",
        required=False,
        max_length=500,
        help_text="Optional: the uploaded paths are put under this folder, e.g. .claude/agents.",
    )
    dry_run = forms.BooleanField(
        label="Dry run: report what would happen, store nothing", required=False
    )
    skip_rejected = forms.BooleanField(
        label="Skip rejected files: store the others anyway", required=False
    )
    as_change = forms.BooleanField(
        label="As one change request for review: nothing is stored until it is approved",
        required=False,
    )

    def clean_folder(self) -> str:
        folder = self.cleaned_data["folder"].strip().rstrip("/")
        if not folder:
            return ""
        try:
            check_length(folder)
        except PathTooLong as error:
            raise ValidationError(
                f"The folder is too long: {error}.", code="folder-too-long"
            ) from None
        try:
            clean_relative_path(f"{folder}/agent.md")
        except UnsafePath:
            raise ValidationError(
                "Give a folder inside the repository, relative to it: no leading /, no . or .. "
                "parts, not inside .git, no backslashes.",
                code="folder-unsafe",
            ) from None
        return folder

    def clean(self):
        data = super().clean()
        if "files" in data and "folder" in data:
            try:
                self.upload = read_uploads(data["files"], data["folder"])
            except UploadError as error:
                self.add_error("files", ValidationError(error.message, code=error.code))
        return data


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text="What the token is for, such as “CI lint” or “my laptop”.",
    )

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if problem := editor.character_error(name):
            raise forms.ValidationError(problem, code="bad-character")
        return name


class RenameForm(forms.Form):
    """A new name for an agent: valid, and nobody else's (change_sets.plan_rename)."""

    name = forms.CharField(
        label="New name",
        max_length=200,
        help_text="Lowercase letters, digits and single hyphens. Every agent that delegates to "
        "this one is changed to name the new name, in the same change request.",
    )

    def __init__(self, *args, agent, **kwargs):
        super().__init__(*args, **kwargs)
        self.agent = agent
        self.plan = None

    def clean_name(self):
        from registry.models.change_sets import plan_rename

        name = self.cleaned_data["name"].strip()
        self.plan = plan_rename(self.agent, name)  # ValidationError(code=...) when refused
        return name
