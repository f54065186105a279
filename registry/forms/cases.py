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
    office_region = fields.text("Region of the office (optional)",
                                hint="Where the region has public holidays of its own: its ISO 3166-2 code, "
                                     "such as HH for Hamburg or BY for Bavaria. They are skipped too.")
    office_zone = fields.text("Time zone of the office (optional)",
                              hint="The case's days are counted in it: the day the goods were presented, the "
                                   "day each period ends. Its IANA name, such as America/Los_Angeles or "
                                   "Atlantic/Azores. Left empty: this service's zone if it is one of the "
                                   "country's, otherwise the country's main one.")
    goods_description = fields.area("Goods detained")
    goods_quantity = fields.text("Quantity detained")
    goods_unit = fields.text("Unit")
    note = fields.area("Note for the timeline")
    submit = fields.submit("Detain and open the case")


class TransitionForm(FlaskForm):
    action = HiddenField()
    version = HiddenField()
    note = fields.area("Note (optional)")


#: Each answer a rights holder can give, as the radios say it.
ANSWER_LABELS = {
    "infringement": "Yes: they are counterfeit",
    "genuine": "No: they are genuine or do not infringe",
    "extension": "We need more time (extension)",
    "proceedings": "Yes: we have started court proceedings (name the court and its reference under Reasons)",
}


class AnswerForm(FlaskForm):
    """The rights holder's answer on a detention. The answers, features and images to pick from
    are the case's, given by its page (``offer``); ``services.cases.respond`` checks the answer
    and names the field of each problem, shown on that field."""

    answer = fields.radios("Do the goods infringe your right?",
                           [(key, ANSWER_LABELS[key]) for key in ("infringement", "genuine", "extension")])
    wrong_features = fields.checkboxes("Features the goods get wrong")
    cited_images = fields.checkboxes("Registered images you rely on")
    consent_to_destruction = fields.checkbox("We agree to the destruction of the goods")
    reasons = fields.area("Reasons")
    submit = fields.submit("Send our answer")

    def values(self) -> dict:
        """The answer as ``services.cases.respond`` takes it."""
        return {"answer": self.answer.data or "", "wrong_features": self.wrong_features.data or [],
                "cited_images": self.cited_images.data or [], "reasons": self.reasons.data or "",
                "consent_to_destruction": "consent_to_destruction" in self._fields
                and bool(self.consent_to_destruction.data)}

    def offer(self, answers: tuple[str, ...]) -> None:
        """The answers the case allows (``services.cases.holder_answers``). A holder asked
        whether proceedings have started (a small consignment whose declarant objected) is asked
        that, and not for consent to destruction, which the declarant refused."""
        self.answer.choices = [(key, ANSWER_LABELS[key]) for key in answers]
        if "proceedings" in answers:
            self.answer.label.text = "Have you started court proceedings about these goods?"
            del self.consent_to_destruction
