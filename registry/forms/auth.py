from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms.validators import ValidationError as FieldError

from registry.forms import fields
from registry.services.auth import MIN_PASSWORD_LENGTH
from registry.services.errors import ValidationError
from registry.services.validation import parse_country


class LoginForm(FlaskForm):
    email = fields.email()
    password = fields.password("Password")
    submit = fields.submit("Sign in")


class ChangePasswordForm(FlaskForm):
    current_password = fields.password("Current password")
    new_password = fields.password("New password", hint=f"At least {MIN_PASSWORD_LENGTH} characters.")
    confirm = fields.password("Repeat the new password")
    submit = fields.submit("Change password")

    def validate_new_password(self, field) -> None:
        if len(field.data or "") < MIN_PASSWORD_LENGTH:
            raise FieldError(f"Use at least {MIN_PASSWORD_LENGTH} characters")

    def validate_confirm(self, field) -> None:
        if field.data != self.new_password.data:
            raise FieldError("The two new passwords are not the same")


class SignupForm(FlaskForm):
    organisation = fields.required_text("Organisation name", "Enter your organisation's name")
    country = fields.required_text("Country", "Enter the country of your organisation",
                                   hint="ISO code (DE, US) or English name.", max_length=60)
    name = fields.required_text("Your name", "Enter your name")
    email = fields.email("Your e-mail address")
    password = fields.password("Password", hint=f"At least {MIN_PASSWORD_LENGTH} characters.")
    submit = fields.submit("Ask for an account")

    def validate_country(self, field) -> None:
        try:
            parse_country(field.data)
        except ValidationError as exc:
            raise FieldError(next(iter(exc.errors.values()))) from None

    def validate_password(self, field) -> None:
        if len(field.data or "") < MIN_PASSWORD_LENGTH:
            raise FieldError(f"Use at least {MIN_PASSWORD_LENGTH} characters")
