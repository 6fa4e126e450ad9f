"""Console forms: one FlaskForm class per action, with their own validation."""

from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
    widgets,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)

from ..domain import adjustments, rules
from ..domain.accounts import MIN_PASSWORD, ROLES
from ..domain.campaigns import BOTH_DIBAO_AND_WUBAO
from ..domain.privacy import MAX_NAME, id_number_problem, name_problem, normalise_name
from ..web.forms import choices


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class EditApplicantForm(FlaskForm):
    head_name = StringField("户主姓名（汉字；少数民族姓名各部分之间用“·”隔开）",
                            validators=[DataRequired("请填写户主姓名。"), Length(max=MAX_NAME)])
    id_number = StringField("户主身份证号（可不填；只保存加密摘要和隐去中间的号码）", validators=[Optional(), Length(max=30)])
    size = IntegerField("家庭人口", validators=[InputRequired("请填写家庭人口。"), NumberRange(1, 30, "家庭人口应在 1 到 30 之间。")])
    group_code = SelectField("村民小组", choices=[], validate_choice=True)
    causes = CheckboxesField("致贫原因（可多选）", choices=choices((k, v[0]) for k, v in rules.CAUSES.items()))
    income_per_capita = DecimalField("家庭人均纯收入（元）", places=0,
                                     validators=[InputRequired("请填写人均纯收入。"), NumberRange(0, 1_000_000, "收入不能为负数。")])
    disabled_member = BooleanField("家中有残疾人")
    single_child = BooleanField("独生子女户")
    all_daughters = BooleanField("纯女户")
    dibao = BooleanField("低保户（民政部门已认定）")
    wubao = BooleanField("五保户（民政部门已认定）")
    applied_on = DateField("申请日期", validators=[InputRequired("请填写申请日期。")])
    votes = IntegerField("得票数", validators=[InputRequired("请填写得票数。"), NumberRange(0, 10_000, "得票数不能为负数。")])
    voters_present = IntegerField("参评人数", validators=[InputRequired("请填写参评人数。"), NumberRange(1, 10_000, "参评人数至少 1 人。")])

    def validate_id_number(self, field):
        if field.data and (problem := id_number_problem(field.data)):
            raise ValidationError(problem)

    def validate_head_name(self, field):
        field.data = normalise_name(field.data)
        if problem := name_problem(field.data, current_app.config["NAME_LATIN"]):
            raise ValidationError(problem)

    def validate_votes(self, field):
        if field.data is not None and self.voters_present.data is not None and field.data > self.voters_present.data:
            raise ValidationError("得票数不能多于参评人数。")

    def validate_wubao(self, field):
        if field.data and self.dibao.data:
            raise ValidationError(BOTH_DIBAO_AND_WUBAO)


class PublishListForm(FlaskForm):
    kind = SelectField("名单类型", choices=choices([(k, rules.LIST_KINDS[k]) for k in ("identify", *rules.ADJUSTMENT_KINDS)]),
                       default="identify")
    start = DateField("公示开始日期（从这天 0 时起）", validators=[InputRequired("请选择公示开始日期。")])


class CorrectListForm(FlaskForm):
    """A registered correction (更正): one household off with its ground and who approved it; the
    ranking of record then fills the freed quota (依次递补)."""
    household = SelectField("要取消资格的农户", coerce=lambda v: int(v) if v not in ("", None) else None, choices=[],
                            validate_choice=True,
                            validators=[InputRequired("请选择要取消资格的农户。")])
    reason = TextAreaField("查实的问题（内部记录，不公开）",
                           validators=[DataRequired("请写明取消资格的理由。"), Length(max=500)])
    approved_by = StringField("批准人（姓名和职务）",
                              validators=[DataRequired("请填写批准这次更正的人。"), Length(max=60)])
    start = DateField("递补户的公示开始日期（递补户单独公示满本级天数）", validators=[Optional()])
    expected = HiddenField()


class UploadPhotoForm(FlaskForm):
    photo = FileField("张榜照片（JPEG 或 PNG，不超过 10 MB）", validators=[FileRequired("请选择照片文件。")])


class UploadImportForm(FlaskForm):
    kind = SelectField("表格内容", choices=[])
    file = FileField("表格文件（xlsx、xls、ods 或 CSV；CSV 可以是 UTF-8 或 GBK 编码）", validators=[FileRequired("请选择要导入的表格文件。")])


class ConfirmImportForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])


class NewUserForm(FlaskForm):
    username = StringField("用户名（登录用，不能有空格）", validators=[DataRequired("请填写用户名。"), Length(max=40)])
    display_name = StringField("姓名", validators=[DataRequired("请填写姓名。"), Length(max=40)])
    role = SelectField("角色", choices=choices(ROLES.items()))
    region_code = SelectField("所属区划", choices=[], validate_choice=True)
    password = StringField(f"初始密码（至少 {MIN_PASSWORD} 位，请当面告知本人）",
                           validators=[DataRequired("请设置初始密码。"), Length(min=MIN_PASSWORD, max=200, message=f"密码至少要 {MIN_PASSWORD} 位。")])


class DeactivateUserForm(FlaskForm):
    pass


class NewCampaignForm(FlaskForm):
    name = StringField("批次名称（如：2027年扶贫对象动态调整）", validators=[DataRequired("请填写批次名称。"), Length(max=60)])
    reference_date = DateField("标准时点", validators=[InputRequired("请填写标准时点。")])
    income_line = IntegerField("扶贫标准（元/人·年）", validators=[InputRequired("请填写扶贫标准。"), NumberRange(1, 100_000)])
    village_days = IntegerField("村级初选公示天数", default=7, validators=[InputRequired(), NumberRange(1, 60)])
    township_days = IntegerField("乡镇审核公示天数", default=7, validators=[InputRequired(), NumberRange(1, 60)])
    county_days = IntegerField("县级审定公告天数", default=15, validators=[InputRequired(), NumberRange(1, 60)])
    dibao = SelectField("低保户", choices=choices(rules.DIBAO_RULES.items()), default="included", validate_choice=True)
    wubao_excluded = BooleanField("五保户不纳入", default=True)
    stop_at_first_misfit = BooleanField("按排名遇到放不下的农户即停止（不勾选则跳过它继续往下选）")
    previous_id = SelectField("接续上一批次（动态调整：带入名册）", choices=[], validate_choice=True, default="")
    carry_quotas = BooleanField("沿用上一批次的规模指标（以后可以重新分解）", default=True)
    exit_skip_township = BooleanField("脱贫退出名单不经乡镇公示（村公示后由县公告）", default=True)
    township_percent = IntegerField("乡镇抽查村级名单的比例（%，不少于 20）", default=20,
                                    validators=[Optional(), NumberRange(20, 100, "不少于 20%%，不超过 100%%。")])
    county_percent = IntegerField("县抽查乡镇名单的比例（%，不少于 5）", default=5,
                                  validators=[Optional(), NumberRange(5, 100, "不少于 5%%，不超过 100%%。")])


class ProposeAdjustmentForm(FlaskForm):
    """A village's proposal to change the register: 剔除, 脱贫退出 or 返贫纳入 of one household."""

    kind = SelectField("调整类型", choices=choices([("", "（请选择）"), *adjustments.KINDS.items()]),
                       validators=[DataRequired("请选择调整类型。")])
    household_id = IntegerField("农户编号", validators=[InputRequired("请选择农户。")])
    ground = SelectField("理由（剔除或返贫纳入）", choices=choices([("", "（脱贫退出不用选）"),
                                                      *adjustments.REMOVAL_GROUNDS.items(), *adjustments.REENTRY_GROUNDS.items()]),
                         validators=[Optional()])
    conditions = CheckboxesField("退出条件（脱贫退出）", choices=choices(adjustments.EXIT_CONDITIONS.items()),
                                 validators=[Optional()])
    finding = TextAreaField("核查认定的情况", validators=[Length(max=2000, message="不超过 2000 字。")])
    complaint_id = HiddenField()


class StepNoteForm(FlaskForm):
    """One step of a proposal with a note: the work team's verification, an override, a withdrawal."""

    note = TextAreaField("说明", validators=[DataRequired("请写明情况。"), Length(max=2000, message="不超过 2000 字。")])


class AgreementForm(FlaskForm):
    agreed = SelectField("农户意见", choices=choices([("yes", "同意退出"), ("no", "不同意退出")]),
                         validators=[DataRequired("请选择农户意见。")])
    on = DateField("确认日期", validators=[InputRequired("请填写确认日期。")])
    how = SelectField("同意的方式", choices=choices([("", "（不同意的不用选）"), *adjustments.AGREEMENT_HOW.items()]),
                      validators=[Optional()])
    note = TextAreaField("农户的意见或补充说明", validators=[Length(max=2000, message="不超过 2000 字。")])
    photo = FileField("签字确认书照片（可选，JPG 或 PNG）")


class SpotResultForm(FlaskForm):
    result = SelectField("抽查结果", choices=choices([("true", "属实"), ("false", "不属实")]),
                         validators=[DataRequired("请选择抽查结果。")])
    note = TextAreaField("核查情况", validators=[Length(max=2000, message="不超过 2000 字。")])
