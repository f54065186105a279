from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms.validators import Optional

from registry.forms import fields
from registry.models import Role


class UserForm(FlaskForm):
    name = fields.required_text("Name", "Enter the person's name")
    email = fields.email()
    role = fields.choice("Role", [("", "Choose"), *[(r.value, r.label) for r in Role]], "Choose a role")
    organisation_id = fields.SelectField("Organisation (rights holders only)", coerce=str, choices=[],
                                         validators=[Optional()], widget=fields.GovSelect())
    office = fields.text("Customs office (officers only)", hint="Officers change only the cases of their office.")
    password = fields.password("Initial password", hint="At least 12 characters; ask the person to change it.")
    submit = fields.submit("Create account")


class RoleForm(FlaskForm):
    role = fields.choice("Role", [(r.value, r.label) for r in Role], "Choose a role")
    organisation_id = fields.SelectField("Organisation", coerce=str, choices=[], validators=[Optional()],
                                         widget=fields.GovSelect())
