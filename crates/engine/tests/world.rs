//! A test world: the demo loaded into an in-memory database, a clock, and short helpers for
//! the national interface's flows.

#![allow(dead_code)]

use yibao_domain::{CertType, DateTime, InstitutionCode, MdtrtId, Money, MsgId, PersonNo, SetlId};
use yibao_engine::commands::{
    Admit, CancelSettlement, Discharge, LineUpload, OpenVisit, Purchase, PurchaseRequest, Settle, SettleRequest,
    SettlementOutcome, Treated, UpdateVisit, UploadLines, VisitDetails,
};
use yibao_engine::memory::MemoryDb;
/// The record types tests read from the in-memory database.
#[allow(unused_imports)]
pub use yibao_engine::records::{Card, CardApplication, FeeLine, Institution, Person, Settlement, Visit};
use yibao_engine::records::{Certificate, VisitKind};
use yibao_engine::{Catalogue, Command, Context, EngineError, Outcome, Reply, Submission, demo};
pub use yibao_ledger::Account;
use yibao_ledger::AccountKey;
use yibao_policy::{PolicySet, SEED_POLICY_TOML, parse_policy};

#[derive(Debug)]
pub struct World {
    pub db: MemoryDb,
    pub policies: PolicySet,
    pub catalogue: Catalogue,
    pub now: DateTime,
    pub sequence: u32,
}

pub const TERTIARY: &str = "H33010000001";
pub const SECONDARY: &str = "H33010000002";
pub const COMMUNITY: &str = "H33010000003";
pub const PHARMACY: &str = "P33010000001";

/// Demo person numbers by name.
pub fn person(name: &str) -> PersonNo {
    let index = demo::PERSONS.iter().position(|p| p.name == name).expect("a demo person");
    demo::person_number(index).parse().unwrap()
}

pub fn yuan(text: &str) -> Money {
    text.parse().unwrap()
}

impl World {
    pub fn demo() -> World {
        World::demo_of(None)
    }

    /// One deployment of two: only `region`'s institutions and persons.
    pub fn demo_region(region: &str) -> World {
        World::demo_of(Some(region))
    }

    fn demo_of(region: Option<&str>) -> World {
        let mut policies = PolicySet::new();
        policies.add("seed.toml", parse_policy("seed.toml", SEED_POLICY_TOML).unwrap()).unwrap();
        let mut world = World {
            db: MemoryDb::default(),
            policies,
            catalogue: Catalogue::default(),
            now: "2026-03-02 09:00:00".parse().unwrap(),
            sequence: 0,
        };
        for command in demo::commands_for(region) {
            world.submit(Submission { envelope: None, command }).expect("demo loads");
        }
        world.catalogue = Catalogue::new(world.db.catalogue.clone());
        world
    }

    pub fn ctx(&self) -> Context<'_> {
        Context { now: self.now, policies: &self.policies, catalogue: &self.catalogue }
    }

    pub fn submit(&mut self, submission: Submission) -> Result<Reply, EngineError> {
        let now = self.now;
        let policies = self.policies.clone();
        let catalogue = self.catalogue.clone();
        let ctx = Context { now, policies: &policies, catalogue: &catalogue };
        self.db.execute(&ctx, submission)
    }

    pub fn exec(&mut self, command: impl Command + 'static) -> Result<Outcome, EngineError> {
        match self.submit(Submission::plain(command))? {
            Reply::Done { outcome, .. } => Ok(outcome),
            Reply::Replayed(_) => unreachable!("no envelope"),
        }
    }

    pub fn dry(&mut self, command: impl Command + 'static) -> Result<Outcome, EngineError> {
        let policies = self.policies.clone();
        let catalogue = self.catalogue.clone();
        let ctx = Context { now: self.now, policies: &policies, catalogue: &catalogue };
        match self.db.dry_run(&ctx, Submission::plain(command))? {
            Reply::Done { outcome, .. } => Ok(outcome),
            Reply::Replayed(_) => unreachable!("no envelope"),
        }
    }

    pub fn msgid(&mut self) -> MsgId {
        self.sequence += 1;
        format!("H33010000001{}{:04}", self.now.compact(), self.sequence).parse().unwrap()
    }

    pub fn details(&self, name: &str, institution: &str, med_type: &str) -> VisitDetails {
        let index = demo::PERSONS.iter().position(|p| p.name == name).unwrap();
        VisitDetails {
            institution: institution.parse().unwrap(),
            psn_no: person(name),
            insurance: demo::PERSONS[index].insurance,
            begin: self.now,
            certificate: Certificate { kind: CertType::IdNumber, number: demo::PERSONS[index].id_number.to_string() },
            his_no: "MZ0001".into(),
            dept_code: "A01".into(),
            dept_name: "内科".into(),
            doctor_code: "D001".into(),
            doctor_name: "医生".into(),
            med_type: Some(med_type.parse().unwrap()),
            diagnosis_code: None,
            diagnosis_name: None,
            diagnoses: Vec::new(),
            insured_admdvs: None,
        }
    }

    pub fn register(&mut self, name: &str, institution: &str, med_type: &str) -> MdtrtId {
        match self.exec(OpenVisit(self.details(name, institution, med_type))).expect("registered") {
            Outcome::Visit(visit) => visit.mdtrt_id,
            other => panic!("{other:?}"),
        }
    }

    pub fn admit(&mut self, name: &str, institution: &str) -> MdtrtId {
        match self.exec(Admit(self.details(name, institution, "21"))).expect("admitted") {
            Outcome::Visit(visit) => visit.mdtrt_id,
            other => panic!("{other:?}"),
        }
    }

    pub fn discharge(&mut self, name: &str, institution: &str, mdtrt_id: &MdtrtId) {
        self.exec(Discharge {
            institution: institution.parse().unwrap(),
            psn_no: person(name),
            mdtrt_id: mdtrt_id.clone(),
            end: self.now,
            diagnosis_code: None,
            diagnosis_name: None,
            diagnoses: Vec::new(),
        })
        .expect("discharged");
    }

    pub fn set_diagnosis(&mut self, name: &str, institution: &str, mdtrt_id: &MdtrtId, code: &str) {
        self.exec(UpdateVisit {
            institution: institution.parse().unwrap(),
            psn_no: person(name),
            mdtrt_id: mdtrt_id.clone(),
            med_type: None,
            begin: None,
            diagnosis_code: Some(code.into()),
            diagnosis_name: Some("诊断".into()),
            diagnoses: Vec::new(),
            dept_code: None,
            dept_name: None,
            doctor_code: None,
            doctor_name: None,
        })
        .expect("updated");
    }

    pub fn lines(&mut self, items: &[(&str, &str, &str)]) -> Vec<LineUpload> {
        items
            .iter()
            .map(|(code, price, quantity)| {
                self.sequence += 1;
                let price = price.parse().unwrap();
                let quantity = quantity.parse().unwrap();
                LineUpload::plain(format!("L{}", self.sequence), "B1", code, price, quantity, self.now)
            })
            .collect()
    }

    pub fn upload(
        &mut self,
        name: &str,
        institution: &str,
        mdtrt_id: &MdtrtId,
        kind: VisitKind,
        items: &[(&str, &str, &str)],
    ) {
        let lines = self.lines(items);
        self.exec(UploadLines {
            institution: institution.parse().unwrap(),
            psn_no: person(name),
            mdtrt_id: mdtrt_id.clone(),
            kind: Some(kind),
            lines,
        })
        .expect("uploaded");
    }

    pub fn settle_command(
        &mut self,
        name: &str,
        institution: &str,
        mdtrt_id: &MdtrtId,
        kind: VisitKind,
        use_account: bool,
    ) -> Settle {
        let request = SettleRequest {
            kind: Some(kind),
            use_account,
            ..SettleRequest::new(institution.parse().unwrap(), person(name), mdtrt_id.clone())
        };
        Settle::new(request, self.msgid(), Treated::Here)
    }

    pub fn settle(&mut self, command: Settle) -> Result<SettlementOutcome, EngineError> {
        match self.exec(command)? {
            Outcome::Settlement(outcome) => Ok(*outcome),
            other => panic!("{other:?}"),
        }
    }

    pub fn cancel(
        &mut self,
        name: &str,
        institution: &str,
        setl_id: &SetlId,
    ) -> Result<SettlementOutcome, EngineError> {
        let msgid = self.msgid();
        match self.exec(CancelSettlement {
            institution: institution.parse().unwrap(),
            psn_no: person(name),
            setl_id: setl_id.clone(),
            mdtrt_id: None,
            kind: None,
            msgid,
        })? {
            Outcome::Settlement(outcome) => Ok(*outcome),
            other => panic!("{other:?}"),
        }
    }

    pub fn purchase(&mut self, name: &str, items: &[(&str, &str, &str)], use_account: bool) -> Purchase {
        self.purchase_with(name, items, use_account, |_| {})
    }

    /// A purchase whose request `change` adjusts first (another certificate, say).
    pub fn purchase_with(
        &mut self,
        name: &str,
        items: &[(&str, &str, &str)],
        use_account: bool,
        change: impl FnOnce(&mut PurchaseRequest),
    ) -> Purchase {
        let index = demo::PERSONS.iter().position(|p| p.name == name).unwrap();
        let lines = self.lines(items);
        let mut request = PurchaseRequest {
            his_no: "YD1".into(),
            use_account,
            ..PurchaseRequest::new(
                PHARMACY.parse().unwrap(),
                person(name),
                demo::PERSONS[index].insurance,
                Certificate { kind: CertType::IdNumber, number: demo::PERSONS[index].id_number.to_string() },
                lines,
                self.now,
            )
        };
        change(&mut request);
        Purchase::new(request, self.msgid())
    }

    pub fn balance(&self, name: &str) -> Money {
        let psn = person(name);
        [AccountKey::PersonalCurrent(psn.clone()), AccountKey::PersonalPrior(psn)]
            .iter()
            .filter_map(|key| self.db.get::<Account>(key))
            .map(|account| account.balance())
            .sum()
    }

    pub fn payable(&self, institution: &str) -> Money {
        let code: InstitutionCode = institution.parse().unwrap();
        self.db.get::<Account>(&AccountKey::InstitutionPayable(code)).map_or(Money::ZERO, |a| a.balance())
    }

    /// Ledger and settlement invariants that must hold after anything.
    pub fn check_invariants(&self) {
        let accounts = self.db.all::<Account>();
        let mismatches = yibao_ledger::verify_replay(accounts.iter(), self.db.transfers.iter());
        assert!(mismatches.is_empty(), "journal replay differs: {mismatches:?}");
        let debits: Money = accounts.iter().map(|a| a.debits_posted).sum();
        let credits: Money = accounts.iter().map(|a| a.credits_posted).sum();
        assert_eq!(debits, credits);
        for account in accounts.iter() {
            if account.key.must_not_go_negative() {
                assert!(!account.balance().is_negative(), "{} is below zero", account.key);
            }
        }
        // Accumulators equal the sum of the changes of every settlement record (mirrors negate).
        let mut expected: std::collections::BTreeMap<(PersonNo, u16), yibao_policy::Accumulators> = Default::default();
        for settlement in self.db.all::<Settlement>() {
            let entry = expected.entry((settlement.psn_no.clone(), settlement.year)).or_default();
            *entry = entry.plus(&settlement.change);
            let a = settlement.amounts;
            assert_eq!(
                a.medfee,
                a.fully_selfpaid + a.over_limit + a.first_selfpay + a.in_scope,
                "{}",
                settlement.setl_id
            );
            assert_eq!(a.medfee, a.fund + a.account() + a.cash, "{}", settlement.setl_id);
        }
        // … and of every approved reimbursement.
        for bill in self.db.all::<yibao_engine::records::Reimbursement>() {
            let entry = expected.entry((bill.psn_no.clone(), bill.year)).or_default();
            *entry = entry.plus(&bill.change);
        }
        for (key, row) in &self.db.accumulators {
            assert_eq!(expected.get(key).copied().unwrap_or_default(), *row, "accumulators of {key:?}");
        }
    }
}
