"""The request form: every field a PIPA request may need, validated in the person's language."""

from __future__ import annotations

from functools import cache

from babel.support import Translations
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    EmailField,
    FieldList,
    Form,
    FormField,
    RadioField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.i18n import messages_path
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from rightsdesk.domain.identity import InvalidEmail, UndeliverableEmail, normalise_email
from rightsdesk.domain.kinds import SUBJECT_KINDS, RequestKind
from rightsdesk.i18n import kind_label

REQUIRED = _l("Please fill in this field.")
TOO_LONG = _l("This is too long.")

#: Purposes a deletion or suspension can be limited to (the seed policies' own purposes).
PURPOSES = {
    "marketing": _l("Marketing and advertising messages"),
    "personalisation": _l("Personalised recommendations"),
    "analytics": _l("Statistics and service analysis"),
    "third_party": _l("Provision to third parties"),
}
SCOPED_KINDS = {RequestKind.DELETION.value, RequestKind.SUSPENSION.value}


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def valid_email(form: Form, field: StringField) -> None:
    if field.data:
        try:
            normalise_email(field.data)
        except UndeliverableEmail:
            raise ValidationError(
                _l(
                    "Our mail cannot reach an address with letters outside A–Z, 0–9 and "
                    "punctuation before the @. Please give another address."
                )
            ) from None
        except InvalidEmail:
            raise ValidationError(_l("Please enter a valid e-mail address.")) from None


class CorrectionItemForm(Form):
    item = StringField(_l("Item to correct (e.g. address)"), [Optional(), Length(max=200)])
    current_value = StringField(_l("Value we hold now"), [Optional(), Length(max=1000)])
    correct_value = StringField(_l("Correct value"), [Optional(), Length(max=1000)])


@cache
def wtforms_translations(locale: str) -> Translations:
    """WTForms' own messages ("Not a valid choice.") in ``locale``, read once per process:
    Flask-WTF reads and parses the catalogue again on every request."""
    return Translations.load(messages_path(), [locale], domain="wtforms")


class RequestForm(FlaskForm):
    class Meta:
        def get_translations(self, form: Form) -> Translations:
            return wtforms_translations(str(get_locale()))

    kind = RadioField(_l("What would you like us to do?"), validators=[InputRequired(REQUIRED)])
    # Spaces alone are no name: stripped, then required.
    name = StringField(
        _l("Name"),
        [DataRequired(REQUIRED), Length(max=200, message=TOO_LONG)],
        filters=[lambda value: value.strip() if isinstance(value, str) else value],
    )
    email = EmailField(
        _l("E-mail address"),
        [InputRequired(REQUIRED), Length(max=254, message=TOO_LONG), valid_email],
        description=_l("We send a confirmation link here. Use the address of your account."),
    )
    details = TextAreaField(
        _l("Details (optional)"), [Optional(), Length(max=5000, message=TOO_LONG)]
    )
    corrections = FieldList(FormField(CorrectionItemForm), min_entries=1, max_entries=20)
    add_item = SubmitField(_l("Add another item"))
    scope = RadioField(
        _l("Scope"),
        choices=[
            SelectChoice("all", _l("Everything")),
            SelectChoice("purposes", _l("Only for the purposes I choose")),
        ],
        default="all",
    )
    purposes = MultiCheckboxField(
        _l("Purposes"), choices=[SelectChoice(key, label) for key, label in PURPOSES.items()]
    )
    on_behalf = BooleanField(_l("I am acting for someone else"))
    representative_role = RadioField(
        _l("I am"),
        choices=[
            SelectChoice("legal_guardian", _l("the legal representative of a child under 14")),
            SelectChoice("agent", _l("an agent with a power of attorney (위임장)")),
        ],
        validators=[Optional()],
    )
    representative_name = StringField(
        _l("Your own name"), [Optional(), Length(max=200, message=TOO_LONG)]
    )
    representative_email = EmailField(
        _l("Your own e-mail address"),
        [Optional(), Length(max=254, message=TOO_LONG), valid_email],
        description=_l("The confirmation link goes to you, the representative."),
    )
    proof = FileField(
        _l("Proof of representation (PDF, JPEG or PNG, up to 10 MB)"),
        description=_l("Family relation certificate, or the power of attorney with ID copy."),
    )
    submit = SubmitField(_l("Send request"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = [SelectChoice(k.value, kind_label(k)) for k in SUBJECT_KINDS]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.kind.data == RequestKind.CORRECTION.value:
            valid &= self._validate_corrections()
        if (
            self.kind.data in SCOPED_KINDS
            and self.scope.data == "purposes"
            and not self.purposes.data
        ):
            self.purposes.errors = [*self.purposes.errors, _l("Choose at least one purpose.")]
            valid = False
        if self.on_behalf.data:
            valid &= self._validate_representative()
        return bool(valid)

    def _validate_corrections(self) -> bool:
        filled = 0
        valid = True
        for entry in self.corrections:
            item, correct = entry.form.item, entry.form.correct_value
            if not (item.data or entry.form.current_value.data or correct.data):
                continue
            filled += 1
            for field in (item, correct):
                if not (field.data or "").strip():
                    field.errors = [*field.errors, REQUIRED]
                    valid = False
        if not filled:
            first = self.corrections.entries[0].form
            first.item.errors = [*first.item.errors, _l("Tell us at least one item to correct.")]
            valid = False
        return valid

    def _validate_representative(self) -> bool:
        valid = True
        for field in (
            self.representative_role,
            self.representative_name,
            self.representative_email,
        ):
            if not (field.data or "").strip():
                field.errors = [*field.errors, REQUIRED]
                valid = False
        return valid
