"""Field helpers: WTForms fields wired to the accessible GOV.UK Frontend widgets."""

from __future__ import annotations

from wtforms import (BooleanField, DateField, FileField, PasswordField, RadioField, SelectField,
                     SelectMultipleField, StringField, SubmitField, TextAreaField)
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

# The GOV.UK widgets, drawn without a second pass through Flask's render_template (see widgets).
from registry.forms.widgets import (GovCheckboxesInput, GovCheckboxInput, GovFileInput, GovPasswordInput,
                                    GovRadioInput, GovSelect, GovSubmitInput, GovTextArea, GovTextInput)


def text(label: str, *validators, hint: str = "", **kwargs) -> StringField:
    return StringField(label, validators=list(validators) or [Optional()], description=hint,
                       widget=GovTextInput(), **kwargs)


def required_text(label: str, message: str, *, max_length: int = 200, hint: str = "") -> StringField:
    return StringField(label, validators=[DataRequired(message=message),
                                          Length(max=max_length)],
                       description=hint, widget=GovTextInput())


def area(label: str, hint: str = "") -> TextAreaField:
    return TextAreaField(label, validators=[Optional(), Length(max=20_000)], description=hint,
                         widget=GovTextArea())


def choice(label: str, choices, message: str, hint: str = "") -> SelectField:
    return SelectField(label, choices=choices, validators=[InputRequired(message=message)],
                       description=hint, widget=GovSelect())


def radios(label: str, choices, hint: str = "") -> RadioField:
    """One of ``choices``, as GOV.UK radios. The choice is not checked here: the service that
    takes the value says what is wrong with it, on the field."""
    return RadioField(label, choices=choices, validate_choice=False, description=hint, widget=GovRadioInput())


def checkboxes(label: str, hint: str = "") -> SelectMultipleField:
    """Any of the choices the page gives the field, as GOV.UK checkboxes; checked by the service
    that takes them, as ``radios`` is."""
    return SelectMultipleField(label, choices=[], coerce=str, validate_choice=False, description=hint,
                               widget=GovCheckboxesInput())


def date(label: str, hint: str = "") -> DateField:
    return DateField(label, validators=[Optional()], description=hint, widget=GovTextInput(),
                     render_kw={"type": "date"})


def checkbox(label: str, hint: str = "") -> BooleanField:
    return BooleanField(label, description=hint, widget=GovCheckboxInput())


def file(label: str, hint: str = "", accept: str = "") -> FileField:
    return FileField(label, description=hint, widget=GovFileInput(),
                     render_kw={"accept": accept} if accept else None)


def password(label: str, hint: str = "") -> PasswordField:
    return PasswordField(label, validators=[DataRequired(message=f"Enter {label.lower()}")],
                         description=hint, widget=GovPasswordInput())


def email(label: str = "E-mail address") -> StringField:
    return StringField(label, validators=[DataRequired(message="Enter an e-mail address"),
                                          Email(message="Enter an e-mail address such as "
                                                        "name@example.com",
                                                check_deliverability=False)],
                       widget=GovTextInput(), render_kw={"autocomplete": "email",
                                                         "spellcheck": "false"})


def submit(label: str) -> SubmitField:
    return SubmitField(label, widget=GovSubmitInput())


def parsed_by(parser):
    """A WTForms validator that runs a service parser, so forms and imports agree."""
    from wtforms.validators import ValidationError as FieldError

    from registry.services.errors import ValidationError

    def validator(_form, field) -> None:
        if field.data in (None, ""):
            return
        try:
            parser(field.data)
        except ValidationError as exc:
            raise FieldError(next(iter(exc.errors.values()))) from None

    return validator
