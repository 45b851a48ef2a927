//! A set of policies: which one prices a given region, insurance type and day.

use yibao_domain::{Admdvs, Date, InsuranceType};

use crate::PolicyError;
use crate::file::scopes_overlap;
use crate::model::{Policy, Scheme};

/// Loaded, checked policies with no two covering the same region, insurance type and day.
#[derive(Debug, Clone, Default)]
pub struct PolicySet {
    policies: Vec<Policy>,
}

/// The policy and scheme that price a settlement.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    pub policy: &'a Policy,
    pub scheme: &'a Scheme,
}

impl PolicySet {
    pub fn new() -> PolicySet {
        PolicySet::default()
    }

    /// Adds a policy read from `file`.
    ///
    /// # Errors
    /// When one of its scopes overlaps a scope of a policy already in the set.
    pub fn add(&mut self, file: &str, policy: Policy) -> Result<(), PolicyError> {
        for existing in &self.policies {
            for (index, scope) in policy.scopes.iter().enumerate() {
                if let Some(clash) = existing.scopes.iter().find(|other| scopes_overlap(scope, other)) {
                    return Err(PolicyError {
                        file: file.to_string(),
                        line: 0,
                        field: format!("scope[{index}]"),
                        problem: format!(
                            "region {} overlaps policy {} ({} to {}) for the same insurance type",
                            scope.admdvs,
                            existing.label(),
                            clash.begin,
                            clash.end
                        ),
                    });
                }
            }
            if existing.id == policy.id && existing.version == policy.version {
                return Err(PolicyError {
                    file: file.to_string(),
                    line: 0,
                    field: "policy.version".to_string(),
                    problem: format!("policy {} is loaded twice", policy.label()),
                });
            }
        }
        self.policies.push(policy);
        Ok(())
    }

    pub fn resolve(&self, admdvs: &Admdvs, insurance: InsuranceType, on: Date) -> Option<Resolved<'_>> {
        self.policies.iter().find_map(|policy| {
            let covered = policy.scopes.iter().any(|scope| scope.contains(admdvs, insurance, on));
            let scheme = policy.scheme(insurance)?;
            covered.then_some(Resolved { policy, scheme })
        })
    }

    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// The policy recorded on a settlement as `id@version`.
    pub fn find_policy(&self, label: &str) -> Option<&Policy> {
        self.policies.iter().find(|policy| policy.label() == label)
    }
}
