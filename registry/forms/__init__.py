"""WTForms classes, one module per area; services re-check everything they are given."""

from __future__ import annotations

from flask_wtf import FlaskForm

from registry.services.errors import ValidationError


def apply_service_errors(form: FlaskForm, error: ValidationError) -> None:
    """Show a service's ``ValidationError`` on the form fields it names (or the form)."""
    for name, message in error.errors.items():
        field = getattr(form, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*(field.errors or []), message]
        else:
            form.form_errors.append(message)
