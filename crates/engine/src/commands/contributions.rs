//! Contributions (R2, seed 002 art. 23): employers declare their employees' monthly bases and
//! pay the employer part into the pooled fund, with the employee part (which the month-end
//! allocation credits to the personal account) recorded beside it; flexible employees pay their
//! own monthly contribution, residents a yearly one for the insurance year. Once per person and
//! period: the transfer id `contribution/<psn_no>/<YYYY-MM>` (residents `<YYYY>`) is the key.
//! A month paid after the allocation withheld its credit (补缴) is credited in the same command.

use yibao_domain::{Money, PersonNo, PersonTypeGroup};
use yibao_ledger::{AccountKey, Posting, Transfer, TransferCode};

use super::credit::{ContributionPeriod, MonthCredit, contribution_id, contribution_reference, credit_month};
use super::summary::{ContributionLine, ContributionSummary};
use super::{Command, Context, Outcome};
use crate::error::EngineError;
use crate::records::{AuditEntry, PersonStatus, WithheldCredit};
use crate::working_set::{Keys, WorkingSet};

/// The most persons one contribution command covers (an employer's declaration is split).
pub const CONTRIBUTION_BATCH_MAX: usize = 1_000;

/// Contributions of one or more persons for a period, paid by their employer (in service:
/// `employer` is required and must be theirs) or by themselves (flexible employees, residents).
/// Each entry may declare the month's base; otherwise the person's registered base is used.
/// All or nothing: one refused entry refuses the whole declaration.
#[derive(Debug, Clone)]
pub struct PayContributions {
    pub employer: Option<String>,
    pub period: ContributionPeriod,
    pub entries: Vec<(PersonNo, Option<Money>)>,
    pub actor: String,
}

impl Command for PayContributions {
    fn name(&self) -> &'static str {
        "pay-contributions"
    }

    fn keys(&self) -> Keys {
        let mut keys = Keys::default();
        keys.persons.extend(self.entries.iter().map(|(psn_no, _)| psn_no.clone()));
        keys.transfers.extend(self.entries.iter().map(|(psn_no, _)| contribution_id(psn_no, self.period)));
        keys
    }

    fn execute(&self, ws: &mut WorkingSet<'_>, ctx: &Context<'_>) -> Result<Outcome, EngineError> {
        if self.entries.is_empty() || self.entries.len() > CONTRIBUTION_BATCH_MAX {
            return Err(EngineError::invalid(
                format!("一次缴费须包含1至{CONTRIBUTION_BATCH_MAX}人"),
                format!("a contribution covers 1 to {CONTRIBUTION_BATCH_MAX} persons"),
            ));
        }
        let (first_day, last_day) = match self.period {
            ContributionPeriod::Month(month) => (month.first_day(), month.last_day()),
            ContributionPeriod::Year(year) => {
                let first = yibao_domain::Date::new(year, 1, 1).map_err(|_| {
                    EngineError::invalid(format!("年度{year}无效"), format!("year {year} is not valid"))
                })?;
                (first, yibao_domain::Date::new(year, 12, 31).expect("a valid year has a 31 December"))
            }
        };
        let today = ctx.now.date();
        if first_day > today.plus_days(366) || last_day.year() + 5 < today.year() {
            return Err(EngineError::invalid(
                format!("缴费期间{}不在可缴范围内", self.period),
                format!("period {} is too far from today to be paid", self.period),
            ));
        }
        if let Some(employer) = &self.employer
            && ws.employer(employer)?.is_none()
        {
            return Err(EngineError::not_found(format!("参保单位{employer}不存在"), format!("no employer {employer}")));
        }
        // Arrears of an ended month: a credit the allocation withheld is paid with them.
        let arrears = match self.period {
            ContributionPeriod::Month(month) if month.last_day() < today => Some(month),
            _ => None,
        };
        if let Some(month) = arrears {
            ws.fetch::<WithheldCredit>(self.entries.iter().map(|(psn_no, _)| (psn_no.clone(), month)).collect())?;
        }
        let mut summary = ContributionSummary::default();
        let mut seen = std::collections::BTreeSet::new();
        for (psn_no, declared) in &self.entries {
            if !seen.insert(psn_no.clone()) {
                return Err(EngineError::invalid(
                    format!("人员{psn_no}在本次缴费中重复"),
                    format!("person {psn_no} appears twice"),
                ));
            }
            let Some(person) = ws.person(psn_no)? else {
                return Err(EngineError::not_found(format!("人员编号{psn_no}不存在"), format!("no person {psn_no}")));
            };
            let refuse = |zh: String, en: String| Err(EngineError::refused(zh, en));
            if person.status != PersonStatus::Active {
                return refuse(format!("人员{psn_no}不在参保状态"), format!("person {psn_no} is not insured"));
            }
            let group = person.person_type.group();
            let flexible = person.person_type == yibao_domain::PersonType::FlexibleInService;
            match (group, self.period) {
                (PersonTypeGroup::Resident, ContributionPeriod::Month(_)) => {
                    return refuse(
                        format!("居民{psn_no}按年度缴费"),
                        format!("resident {psn_no} pays per insurance year, not per month"),
                    );
                }
                (PersonTypeGroup::InService, ContributionPeriod::Year(_)) => {
                    return refuse(format!("职工{psn_no}按月缴费"), format!("employee {psn_no} pays per month"));
                }
                (PersonTypeGroup::Retired, _) => {
                    return refuse(
                        format!("退休人员{psn_no}不缴纳基本医疗保险费"),
                        format!("retiree {psn_no} pays no contribution"),
                    );
                }
                _ => {}
            }
            match (&self.employer, flexible || group == PersonTypeGroup::Resident) {
                (None, false) => {
                    return refuse(
                        format!("在职职工{psn_no}由参保单位缴费，须填写单位"),
                        format!("in-service employee {psn_no} is paid for by the employer: name it"),
                    );
                }
                (Some(employer), false) if person.employer.as_deref() != Some(employer.as_str()) => {
                    return refuse(
                        format!("人员{psn_no}不是单位{employer}的职工"),
                        format!("person {psn_no} is not employed by {employer}"),
                    );
                }
                (Some(employer), true) => {
                    return refuse(
                        format!("人员{psn_no}个人缴费，不由单位{employer}缴纳"),
                        format!("person {psn_no} pays their own contribution, not employer {employer}"),
                    );
                }
                _ => {}
            }
            let Some(resolved) = ctx.policies.resolve(&person.admdvs, person.insurance, last_day) else {
                return refuse(
                    format!("{}险种{}在{}没有适用的政策", person.admdvs, person.insurance, self.period),
                    format!("no policy covers {} {} in {}", person.admdvs, person.insurance, self.period),
                );
            };
            let Some(rule) = resolved.scheme.contribution else {
                return refuse(
                    format!("政策{}未规定缴费", resolved.policy.label()),
                    format!("policy {} sets no contributions", resolved.policy.label()),
                );
            };
            let base = match group {
                PersonTypeGroup::Resident => None,
                _ => match declared.or(person.contribution_base) {
                    Some(base) if base.is_positive() => Some(base),
                    _ => {
                        return Err(EngineError::invalid(
                            format!("人员{psn_no}须申报缴费基数"),
                            format!("declare a positive contribution base for {psn_no}"),
                        ));
                    }
                },
            };
            let due = rule.due(person.person_type, base.unwrap_or(Money::ZERO));
            if !(due.pooled + due.employee).is_positive() {
                return refuse(
                    format!("政策{}对人员类别{}未规定缴费", resolved.policy.label(), person.person_type),
                    format!(
                        "policy {} sets no contribution for person type {}",
                        resolved.policy.label(),
                        person.person_type
                    ),
                );
            }
            let id = contribution_id(psn_no, self.period);
            if ws.transfer(&id)?.is_some() {
                summary.already.push(psn_no.clone());
                // Paid while suspended, say: the withheld month is credited now.
                if let Some(month) = arrears {
                    credit_withheld(ws, ctx, &person, month, &mut summary)?;
                }
                continue;
            }
            let bank = AccountKey::FundBank(person.admdvs.clone());
            let pool = AccountKey::PoolFund(person.admdvs.clone(), person.insurance);
            let income = AccountKey::ContributionIncome(person.admdvs.clone(), person.insurance);
            let mut postings = vec![Posting::debit(bank.clone(), due.pooled + due.employee)];
            if due.pooled.is_positive() {
                postings.push(Posting::credit(pool.clone(), due.pooled));
            }
            if due.employee.is_positive() {
                postings.push(Posting::credit(income.clone(), due.employee));
            }
            for key in [bank, pool, income] {
                ws.open_account(key)?;
            }
            let payer = self.employer.clone().unwrap_or_else(|| "individual".to_string());
            ws.post(Transfer {
                id,
                code: TransferCode::Contribution,
                at: ctx.now,
                reference: contribution_reference(self.period, &payer, base, declared.is_some()),
                postings,
            })?;
            if let Some(month) = arrears {
                credit_withheld(ws, ctx, &person, month, &mut summary)?;
            }
            summary.total += due.pooled + due.employee;
            summary.paid.push(ContributionLine {
                psn_no: psn_no.clone(),
                base,
                pooled: due.pooled,
                employee: due.employee,
            });
        }
        if !summary.paid.is_empty() {
            ws.audit(AuditEntry {
                at: ctx.now,
                actor: self.actor.clone(),
                action: "pay-contributions".to_string(),
                subject: self.employer.clone().unwrap_or_else(|| summary.paid[0].psn_no.to_string()),
                reason: format!("{} {} persons, {}", self.period, summary.paid.len(), summary.total),
            });
        }
        Ok(Outcome::Contributions(summary))
    }
}

/// Credits a month the allocation withheld from `person`, if it did and it can be credited now.
fn credit_withheld(
    ws: &mut WorkingSet<'_>,
    ctx: &Context<'_>,
    person: &crate::records::Person,
    month: yibao_domain::Month,
    summary: &mut ContributionSummary,
) -> Result<(), EngineError> {
    if let Some(withheld) = ws.get::<WithheldCredit>(&(person.psn_no.clone(), month))?
        && withheld.credited_at.is_none()
        && let MonthCredit::Credited(amount) = credit_month(ws, ctx, person, month)?
    {
        ws.put(WithheldCredit { credited_at: Some(ctx.now), ..withheld });
        summary.arrears_credited.push((person.psn_no.clone(), month, amount));
    }
    Ok(())
}
