from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import Optional

from registry.forms import fields
from registry.services import validation as v


class DetainForm(FlaskForm):
    suggestion_id = fields.SelectField("Right infringed", coerce=str, choices=[], validators=[Optional()],
                                       widget=fields.GovSelect())
    jurisdiction = fields.SelectField("Jurisdiction profile", coerce=str, choices=[],
                                      validators=[fields.DataRequired(message="Choose the jurisdiction")],
                                      widget=fields.GovSelect())
    procedure = fields.SelectField("Procedure", choices=[("standard", "Standard"),
                                                         ("small_consignment", "Small consignment"),
                                                         ("perishable", "Perishable goods")],
                                   widget=fields.GovSelect())
    legal_basis = fields.SelectField("Legal basis", choices=[("application", "Application for action (EU)"),
                                                             ("recordation", "Recordation (US)"),
                                                             ("ex_officio", "Ex officio")],
                                     widget=fields.GovSelect())
    office = fields.required_text("Responsible customs office", "Name the responsible customs office")
    office_country = fields.StringField("Country of the office", validators=[
        fields.DataRequired(message="Enter the office's country"), fields.parsed_by(v.parse_country)],
        widget=fields.GovTextInput(), description="Its public holidays are skipped when deadlines are counted.")
    goods_description = fields.area("Goods detained")
    goods_quantity = fields.text("Quantity detained")
    goods_unit = fields.text("Unit")
    note = fields.area("Note for the timeline")
    submit = fields.submit("Detain and open the case")


class TransitionForm(FlaskForm):
    action = HiddenField()
    version = HiddenField()
    note = fields.area("Note (optional)")
