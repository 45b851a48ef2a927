//! Reading a policy file: TOML in, a checked [`Policy`] or an error naming file, line and field.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use toml::{Spanned, Value};
use yibao_domain::{Admdvs, Date, InsuranceType, MedType, Money, Ratio};

use crate::model::{
    AccountCredit, CivilServantSubsidy, ContributionRule, DeductibleRule, Disease, EmergencyAdmissionRule,
    InpatientRule, LevelTable, OutpatientRule, Policy, Scheme, Scope, SpecialOutpatientRule,
};

/// Why a policy file was refused: which file, which line, which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    /// 1-based; 0 when the problem is not tied to a line (an empty file).
    pub line: usize,
    pub field: String,
    pub problem: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: {}", self.file, self.line, self.field, self.problem)
    }
}

impl std::error::Error for PolicyError {}

type Field = Spanned<Value>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    policy: RawHeader,
    #[serde(default)]
    scope: Vec<Spanned<RawScope>>,
    #[serde(default)]
    scheme: Vec<Spanned<RawScheme>>,
    emergency_admission: Option<Spanned<RawEmergency>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    id: Field,
    version: Field,
    name_zh: Field,
    name_en: Field,
    source: Field,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    admdvs: Field,
    insutypes: Field,
    begin: Field,
    end: Option<Field>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScheme {
    name: Field,
    insutypes: Field,
    personal_account: Field,
    annual_fund_cap: Field,
    outpatient: Spanned<RawOutpatient>,
    inpatient: Spanned<RawInpatient>,
    special_outpatient: Option<Spanned<RawSpecial>>,
    account_credit: Option<Spanned<RawAccountCredit>>,
    contribution: Option<Spanned<RawContribution>>,
    civil_servant_subsidy: Option<Spanned<RawSubsidy>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubsidy {
    med_types: Field,
    share: Field,
    annual_cap: Field,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContribution {
    employer_rate: Option<Field>,
    employee_rate: Option<Field>,
    flexible_rate: Option<Field>,
    annual: Option<Field>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccountCredit {
    in_service_share: Field,
    flexible_monthly: Field,
    retiree_monthly: Field,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevels {
    tertiary: Field,
    secondary: Field,
    primary: Field,
    community: Field,
    pharmacy: Option<Field>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutpatient {
    med_types: Field,
    annual_deductible: Field,
    fund_share: RawLevels,
    annual_band: Option<Field>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInpatient {
    med_types: Field,
    deductible: RawLevels,
    deductible_rule: Field,
    repeat_admission_factor: Option<Field>,
    fund_share: RawLevels,
    retiree_bonus: Option<Field>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpecial {
    med_types: Field,
    #[serde(default)]
    diseases: Vec<Spanned<RawDisease>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDisease {
    code: Field,
    name: Field,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmergency {
    emergency_med_types: Field,
    window_days: Field,
}

/// Reads the text of one policy file. `file` names it in errors.
///
/// # Errors
/// A [`PolicyError`] for TOML syntax, unknown or missing fields, and every semantic problem:
/// ratios above 1, negative amounts, inverted or overlapping date ranges, an insurance type
/// in two schemes or in a scope but no scheme, a medical type in two rules, …
pub fn parse_policy(file: &str, text: &str) -> Result<Policy, PolicyError> {
    let reader = Reader { file, text };
    let raw: RawFile = toml::from_str(text).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        let message = error.message().trim().to_string();
        let field = field_named_in(&message).unwrap_or_else(|| "(file)".to_string());
        reader.error_at(span, &field, message)
    })?;
    reader.policy(raw)
}

/// serde's messages name the field in backquotes: "missing field `source`".
fn field_named_in(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    Some(message[start..end].to_string())
}

struct Reader<'a> {
    file: &'a str,
    text: &'a str,
}

impl Reader<'_> {
    fn error_at(&self, span: Range<usize>, field: &str, problem: impl Into<String>) -> PolicyError {
        let start = span.start.min(self.text.len());
        PolicyError {
            file: self.file.to_string(),
            line: match self.text.is_empty() {
                true => 0,
                false => self.text[..start].matches('\n').count() + 1,
            },
            field: field.to_string(),
            problem: problem.into(),
        }
    }

    fn error(&self, value: &Field, field: &str, problem: impl Into<String>) -> PolicyError {
        self.error_at(value.span(), field, problem)
    }

    fn text(&self, value: &Field, field: &str) -> Result<String, PolicyError> {
        match value.get_ref() {
            Value::String(text) if !text.trim().is_empty() => Ok(text.clone()),
            Value::String(_) => Err(self.error(value, field, "must not be empty")),
            other => Err(self.error(value, field, format!("must be a string, found {}", other.type_str()))),
        }
    }

    /// Decimal text, from a TOML string or integer. TOML floats are refused: they are binary.
    fn decimal_text(&self, value: &Field, field: &str) -> Result<String, PolicyError> {
        match value.get_ref() {
            Value::String(text) => Ok(text.clone()),
            Value::Integer(number) => Ok(number.to_string()),
            Value::Float(_) => {
                Err(self.error(value, field, "write decimals as strings (\"0.85\"), TOML floats are not exact"))
            }
            other => Err(self.error(value, field, format!("must be a decimal string, found {}", other.type_str()))),
        }
    }

    fn money(&self, value: &Field, field: &str) -> Result<Money, PolicyError> {
        let money: Money = self
            .decimal_text(value, field)?
            .parse()
            .map_err(|e: yibao_domain::ParseError| self.error(value, field, e.to_string()))?;
        if money.is_negative() {
            return Err(self.error(value, field, format!("{money} is negative")));
        }
        Ok(money)
    }

    fn ratio(&self, value: &Field, field: &str) -> Result<Ratio, PolicyError> {
        self.decimal_text(value, field)?
            .parse()
            .map_err(|e: yibao_domain::ParseError| self.error(value, field, e.to_string()))
    }

    fn date(&self, value: &Field, field: &str) -> Result<Date, PolicyError> {
        let text = match value.get_ref() {
            Value::String(text) => text.clone(),
            Value::Datetime(datetime) => datetime.to_string(),
            other => {
                return Err(self.error(value, field, format!("must be a date, found {}", other.type_str())));
            }
        };
        text.parse().map_err(|e: yibao_domain::ParseError| self.error(value, field, e.to_string()))
    }

    fn boolean(&self, value: &Field, field: &str) -> Result<bool, PolicyError> {
        match value.get_ref() {
            Value::Boolean(flag) => Ok(*flag),
            other => Err(self.error(value, field, format!("must be true or false, found {}", other.type_str()))),
        }
    }

    fn list<T>(
        &self,
        value: &Field,
        field: &str,
        parse: impl Fn(&str) -> Result<T, yibao_domain::ParseError>,
    ) -> Result<Vec<T>, PolicyError> {
        let Value::Array(items) = value.get_ref() else {
            return Err(self.error(value, field, "must be a list of strings"));
        };
        if items.is_empty() {
            return Err(self.error(value, field, "must not be empty"));
        }
        items
            .iter()
            .map(|item| match item {
                Value::String(text) => parse(text).map_err(|e| self.error(value, field, e.to_string())),
                other => Err(self.error(value, field, format!("must list strings, found {}", other.type_str()))),
            })
            .collect()
    }

    fn levels<T: Copy>(
        &self,
        raw: &RawLevels,
        field: &str,
        read: impl Fn(&Field, &str) -> Result<T, PolicyError>,
    ) -> Result<LevelTable<T>, PolicyError> {
        Ok(LevelTable {
            tertiary: read(&raw.tertiary, &format!("{field}.tertiary"))?,
            secondary: read(&raw.secondary, &format!("{field}.secondary"))?,
            primary: read(&raw.primary, &format!("{field}.primary"))?,
            community: read(&raw.community, &format!("{field}.community"))?,
            pharmacy: raw.pharmacy.as_ref().map(|value| read(value, &format!("{field}.pharmacy"))).transpose()?,
        })
    }

    fn policy(&self, raw: RawFile) -> Result<Policy, PolicyError> {
        let header = &raw.policy;
        let id = self.text(&header.id, "policy.id")?;
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(self.error(
                &header.id,
                "policy.id",
                format!("{id:?} may hold only letters, digits, '-' and '_'"),
            ));
        }
        let whole_file = 0..self.text.len();
        if raw.scheme.is_empty() {
            return Err(self.error_at(whole_file.clone(), "scheme", "a policy needs at least one [[scheme]]"));
        }
        if raw.scope.is_empty() {
            return Err(self.error_at(whole_file, "scope", "a policy needs at least one [[scope]]"));
        }
        let schemes = raw
            .scheme
            .iter()
            .enumerate()
            .map(|(index, scheme)| self.scheme(scheme.get_ref(), &format!("scheme[{index}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = HashSet::new();
        for (index, scheme) in raw.scheme.iter().enumerate() {
            for insurance in &schemes[index].insurance_types {
                if !seen.insert(*insurance) {
                    return Err(self.error(
                        &scheme.get_ref().insutypes,
                        &format!("scheme[{index}].insutypes"),
                        format!("insurance type {insurance} is already in an earlier scheme"),
                    ));
                }
            }
        }
        let mut scopes: Vec<Scope> = Vec::new();
        for (index, spanned) in raw.scope.iter().enumerate() {
            let field = format!("scope[{index}]");
            let scope = self.scope(spanned.get_ref(), &field)?;
            if let Some(missing) = scope.insurance_types.iter().find(|i| !seen.contains(i)) {
                return Err(self.error(
                    &spanned.get_ref().insutypes,
                    &format!("{field}.insutypes"),
                    format!("insurance type {missing} has no scheme in this policy"),
                ));
            }
            if let Some(other) = scopes.iter().position(|earlier| scopes_overlap(earlier, &scope)) {
                return Err(self.error_at(
                    spanned.span(),
                    &field,
                    format!("overlaps scope[{other}] for region {} in the same dates", scope.admdvs),
                ));
            }
            scopes.push(scope);
        }
        let emergency_admission = raw
            .emergency_admission
            .as_ref()
            .map(|rule| {
                let rule = rule.get_ref();
                let window_days = match rule.window_days.get_ref() {
                    Value::Integer(days) if (1..=90).contains(days) => *days as u16,
                    _ => {
                        return Err(self.error(
                            &rule.window_days,
                            "emergency_admission.window_days",
                            "must be a whole number of days from 1 to 90",
                        ));
                    }
                };
                Ok(EmergencyAdmissionRule {
                    emergency_med_types: self.list(
                        &rule.emergency_med_types,
                        "emergency_admission.emergency_med_types",
                        str::parse,
                    )?,
                    window_days,
                })
            })
            .transpose()?;
        Ok(Policy {
            id,
            version: self.text(&header.version, "policy.version")?,
            name_zh: self.text(&header.name_zh, "policy.name_zh")?,
            name_en: self.text(&header.name_en, "policy.name_en")?,
            source: self.text(&header.source, "policy.source")?,
            scopes,
            schemes,
            emergency_admission,
        })
    }

    fn scope(&self, raw: &RawScope, field: &str) -> Result<Scope, PolicyError> {
        let admdvs: Admdvs =
            self.text(&raw.admdvs, &format!("{field}.admdvs"))?.parse().map_err(|e: yibao_domain::ParseError| {
                self.error(&raw.admdvs, &format!("{field}.admdvs"), e.to_string())
            })?;
        let begin = self.date(&raw.begin, &format!("{field}.begin"))?;
        let end = match &raw.end {
            Some(end) => self.date(end, &format!("{field}.end"))?,
            None => Date::FOREVER,
        };
        if end < begin {
            let value = raw.end.as_ref().expect("FOREVER is never before begin");
            return Err(self.error(value, &format!("{field}.end"), format!("{end} is before begin {begin}")));
        }
        Ok(Scope {
            admdvs,
            insurance_types: self.list(&raw.insutypes, &format!("{field}.insutypes"), str::parse)?,
            begin,
            end,
        })
    }

    fn scheme(&self, raw: &RawScheme, field: &str) -> Result<Scheme, PolicyError> {
        let annual_fund_cap = self.money(&raw.annual_fund_cap, &format!("{field}.annual_fund_cap"))?;
        if annual_fund_cap.is_zero() {
            return Err(self.error(&raw.annual_fund_cap, &format!("{field}.annual_fund_cap"), "must be above zero"));
        }
        let outpatient = self.outpatient(raw.outpatient.get_ref(), &format!("{field}.outpatient"))?;
        let inpatient = self.inpatient(raw.inpatient.get_ref(), &format!("{field}.inpatient"))?;
        let special_outpatient = raw
            .special_outpatient
            .as_ref()
            .map(|special| self.special(special.get_ref(), &format!("{field}.special_outpatient")))
            .transpose()?;
        let mut med_types = HashSet::new();
        let rules = [
            (&raw.outpatient.get_ref().med_types, "outpatient", &outpatient.med_types),
            (&raw.inpatient.get_ref().med_types, "inpatient", &inpatient.med_types),
        ];
        let special = raw
            .special_outpatient
            .as_ref()
            .zip(special_outpatient.as_ref())
            .map(|(raw, checked)| (&raw.get_ref().med_types, "special_outpatient", &checked.med_types));
        for (value, rule, types) in rules.into_iter().chain(special) {
            if let Some(twice) = types.iter().find(|t| !med_types.insert(**t)) {
                return Err(self.error(
                    value,
                    &format!("{field}.{rule}.med_types"),
                    format!("medical type {twice} is already priced by another rule of this scheme"),
                ));
            }
        }
        let personal_account = self.boolean(&raw.personal_account, &format!("{field}.personal_account"))?;
        let account_credit = match &raw.account_credit {
            None => None,
            Some(credit) if !personal_account => {
                return Err(self.error_at(
                    credit.span(),
                    &format!("{field}.account_credit"),
                    "needs personal_account = true",
                ));
            }
            Some(credit) => {
                let credit = credit.get_ref();
                let field = format!("{field}.account_credit");
                Some(AccountCredit {
                    in_service_share: self.ratio(&credit.in_service_share, &format!("{field}.in_service_share"))?,
                    flexible_monthly: self.money(&credit.flexible_monthly, &format!("{field}.flexible_monthly"))?,
                    retiree_monthly: self.money(&credit.retiree_monthly, &format!("{field}.retiree_monthly"))?,
                })
            }
        };
        let contribution = match &raw.contribution {
            None => None,
            Some(rule) => {
                let rule = rule.get_ref();
                let field = format!("{field}.contribution");
                let ratio = |value: &Option<Field>, name: &str| -> Result<Ratio, PolicyError> {
                    value.as_ref().map_or(Ok(Ratio::ZERO), |value| self.ratio(value, &format!("{field}.{name}")))
                };
                Some(ContributionRule {
                    employer_rate: ratio(&rule.employer_rate, "employer_rate")?,
                    employee_rate: ratio(&rule.employee_rate, "employee_rate")?,
                    flexible_rate: ratio(&rule.flexible_rate, "flexible_rate")?,
                    annual: match &rule.annual {
                        Some(value) => self.money(value, &format!("{field}.annual"))?,
                        None => Money::ZERO,
                    },
                })
            }
        };
        let civil_servant_subsidy = raw
            .civil_servant_subsidy
            .as_ref()
            .map(|subsidy| self.subsidy(subsidy.get_ref(), &med_types, &format!("{field}.civil_servant_subsidy")))
            .transpose()?;
        Ok(Scheme {
            name: self.text(&raw.name, &format!("{field}.name"))?,
            civil_servant_subsidy,
            contribution,
            insurance_types: self.list(&raw.insutypes, &format!("{field}.insutypes"), str::parse::<InsuranceType>)?,
            personal_account,
            account_credit,
            annual_fund_cap,
            outpatient,
            inpatient,
            special_outpatient,
        })
    }

    fn outpatient(&self, raw: &RawOutpatient, field: &str) -> Result<OutpatientRule, PolicyError> {
        Ok(OutpatientRule {
            med_types: self.list(&raw.med_types, &format!("{field}.med_types"), str::parse::<MedType>)?,
            annual_deductible: self.money(&raw.annual_deductible, &format!("{field}.annual_deductible"))?,
            fund_share: self.levels(&raw.fund_share, &format!("{field}.fund_share"), |v, f| self.ratio(v, f))?,
            annual_band: raw
                .annual_band
                .as_ref()
                .map(|band| self.money(band, &format!("{field}.annual_band")))
                .transpose()?,
        })
    }

    fn inpatient(&self, raw: &RawInpatient, field: &str) -> Result<InpatientRule, PolicyError> {
        let rule_field = format!("{field}.deductible_rule");
        let deductible_rule = match self.text(&raw.deductible_rule, &rule_field)?.as_str() {
            "per-admission" => {
                let factor_field = format!("{field}.repeat_admission_factor");
                let Some(factor) = &raw.repeat_admission_factor else {
                    return Err(self.error(
                        &raw.deductible_rule,
                        &factor_field,
                        "is required with deductible_rule = \"per-admission\"",
                    ));
                };
                DeductibleRule::PerAdmission { repeat_factor: self.ratio(factor, &factor_field)? }
            }
            "annual-highest-level" => {
                if let Some(factor) = &raw.repeat_admission_factor {
                    return Err(self.error(
                        factor,
                        &format!("{field}.repeat_admission_factor"),
                        "applies only with deductible_rule = \"per-admission\"",
                    ));
                }
                DeductibleRule::AnnualHighestLevel
            }
            other => {
                return Err(self.error(
                    &raw.deductible_rule,
                    &rule_field,
                    format!("{other:?} is not \"per-admission\" or \"annual-highest-level\""),
                ));
            }
        };
        Ok(InpatientRule {
            med_types: self.list(&raw.med_types, &format!("{field}.med_types"), str::parse::<MedType>)?,
            deductible: self.levels(&raw.deductible, &format!("{field}.deductible"), |v, f| self.money(v, f))?,
            deductible_rule,
            fund_share: self.levels(&raw.fund_share, &format!("{field}.fund_share"), |v, f| self.ratio(v, f))?,
            retiree_bonus: raw
                .retiree_bonus
                .as_ref()
                .map(|bonus| self.ratio(bonus, &format!("{field}.retiree_bonus")))
                .transpose()?
                .unwrap_or(Ratio::ZERO),
        })
    }

    /// The subsidy's medical types must each be priced by a rule of the scheme.
    fn subsidy(
        &self,
        raw: &RawSubsidy,
        priced: &HashSet<MedType>,
        field: &str,
    ) -> Result<CivilServantSubsidy, PolicyError> {
        let med_types = self.list(&raw.med_types, &format!("{field}.med_types"), str::parse::<MedType>)?;
        if let Some(unpriced) = med_types.iter().find(|t| !priced.contains(t)) {
            return Err(self.error(
                &raw.med_types,
                &format!("{field}.med_types"),
                format!("medical type {unpriced} is not priced by any rule of this scheme"),
            ));
        }
        let annual_cap = self.money(&raw.annual_cap, &format!("{field}.annual_cap"))?;
        if annual_cap.is_zero() {
            return Err(self.error(&raw.annual_cap, &format!("{field}.annual_cap"), "must be above zero"));
        }
        Ok(CivilServantSubsidy { med_types, share: self.ratio(&raw.share, &format!("{field}.share"))?, annual_cap })
    }

    fn special(&self, raw: &RawSpecial, field: &str) -> Result<SpecialOutpatientRule, PolicyError> {
        let mut diseases: Vec<Disease> = Vec::new();
        for (index, disease) in raw.diseases.iter().enumerate() {
            let disease_field = format!("{field}.diseases[{index}]");
            let raw_disease = disease.get_ref();
            let code = self.text(&raw_disease.code, &format!("{disease_field}.code"))?;
            if diseases.iter().any(|d| d.code == code) {
                return Err(self.error(
                    &raw_disease.code,
                    &format!("{disease_field}.code"),
                    format!("{code} is listed twice"),
                ));
            }
            diseases.push(Disease { code, name: self.text(&raw_disease.name, &format!("{disease_field}.name"))? });
        }
        if diseases.is_empty() {
            return Err(self.error(&raw.med_types, &format!("{field}.diseases"), "lists no disease"));
        }
        Ok(SpecialOutpatientRule {
            med_types: self.list(&raw.med_types, &format!("{field}.med_types"), str::parse::<MedType>)?,
            diseases,
        })
    }
}

/// Two scopes overlap when they share a region, an insurance type and at least one day.
pub(crate) fn scopes_overlap(a: &Scope, b: &Scope) -> bool {
    a.admdvs == b.admdvs
        && a.insurance_types.iter().any(|i| b.insurance_types.contains(i))
        && a.begin <= b.end
        && b.begin <= a.end
}
