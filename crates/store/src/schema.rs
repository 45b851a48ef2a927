//! The schema, defined once and written out as DDL for each backend, and its migrations.
//!
//! Hot tables lead with the person or account they belong to (`accumulators`, `postings`,
//! indexes on `psn_no`), so a later distribution by person or region keeps related rows together.

/// A column's storage type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Int,
    Text,
    Blob,
}

#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub name: &'static str,
    pub ty: Ty,
    pub nullable: bool,
}

const fn col(name: &'static str, ty: Ty) -> Column {
    Column { name, ty, nullable: false }
}

const fn opt(name: &'static str, ty: Ty) -> Column {
    Column { name, ty, nullable: true }
}

/// A table: its columns in codec order, its key, and whether rows keep insertion order.
#[derive(Debug)]
pub struct TableDef {
    pub name: &'static str,
    pub columns: &'static [Column],
    /// Empty for append-only tables keyed by their insertion order.
    pub key: &'static [&'static str],
    /// Rows are read back in insertion order (SQLite `rowid`, PostgreSQL `seq`).
    pub ordered: bool,
    pub indexes: &'static [&'static [&'static str]],
}

impl TableDef {
    pub fn column_list(&self) -> String {
        self.columns.iter().map(|c| c.name).collect::<Vec<_>>().join(", ")
    }
}

use Ty::{Blob, Int, Text};

pub const META: TableDef = TableDef {
    name: "meta",
    columns: &[col("key", Text), col("value", Text)],
    key: &["key"],
    ordered: false,
    indexes: &[],
};

pub const REGIONS: TableDef = TableDef {
    name: "regions",
    columns: &[col("admdvs", Text), col("name", Text)],
    key: &["admdvs"],
    ordered: false,
    indexes: &[],
};

pub const EMPLOYERS: TableDef = TableDef {
    name: "employers",
    columns: &[col("code", Text), col("name", Text), col("admdvs", Text)],
    key: &["code"],
    ordered: false,
    indexes: &[],
};

pub const INSTITUTIONS: TableDef = TableDef {
    name: "institutions",
    columns: &[
        col("code", Text),
        col("name", Text),
        col("kind", Text),
        opt("level", Text),
        col("admdvs", Text),
        col("designated_from", Text),
        col("designated_to", Text),
        col("accepts_evoucher", Int),
        col("gateway_secret", Text),
    ],
    key: &["code"],
    ordered: false,
    indexes: &[&["admdvs", "kind"]],
};

pub const PERSONS: TableDef = TableDef {
    name: "persons",
    columns: &[
        col("psn_no", Text),
        col("id_number", Text),
        col("name", Text),
        col("admdvs", Text),
        col("insutype", Text),
        col("psn_type", Text),
        opt("employer", Text),
        col("status", Text),
        col("insured_since", Text),
        col("ethnicity", Text),
        col("custody_bank", Text),
        opt("contribution_base_fen", Int),
        col("account_frozen", Int),
    ],
    key: &["psn_no"],
    ordered: false,
    indexes: &[&["id_number"], &["admdvs", "psn_no"], &["employer"]],
};

pub const CARDS: TableDef = TableDef {
    name: "cards",
    columns: &[
        col("card_no", Text),
        col("card_sn", Text),
        col("psn_no", Text),
        col("status", Text),
        col("bank", Text),
        opt("issued_on", Text),
        col("unprinted", Int),
        opt("replaces", Text),
    ],
    key: &["card_no"],
    ordered: false,
    indexes: &[&["psn_no"]],
};

pub const ACCOUNTS: TableDef = TableDef {
    name: "accounts",
    columns: &[col("account", Text), col("debits_fen", Int), col("credits_fen", Int)],
    key: &["account"],
    ordered: false,
    indexes: &[],
};

pub const ACCUMULATORS: TableDef = TableDef {
    name: "accumulators",
    columns: &[
        col("psn_no", Text),
        col("year", Int),
        col("outpatient_deductible_fen", Int),
        col("inpatient_deductible_fen", Int),
        col("admissions", Int),
        col("outpatient_band_fen", Int),
        col("fund_fen", Int),
        col("medfee_fen", Int),
    ],
    key: &["psn_no", "year"],
    ordered: false,
    indexes: &[],
};

pub const VISITS: TableDef = TableDef {
    name: "visits",
    columns: &[
        col("mdtrt_id", Text),
        col("psn_no", Text),
        col("institution", Text),
        col("kind", Text),
        col("insutype", Text),
        opt("med_type", Text),
        col("begin_at", Text),
        opt("end_at", Text),
        col("status", Text),
        col("cert_type", Text),
        col("cert_no", Text),
        col("his_no", Text),
        col("dept_code", Text),
        col("dept_name", Text),
        col("doctor_code", Text),
        col("doctor_name", Text),
        opt("diagnosis_code", Text),
        opt("diagnosis_name", Text),
        col("insured_admdvs", Text),
        col("treated_admdvs", Text),
        col("admission_counted", Int),
        col("deductible_paid_fen", Int),
        opt("folded_into", Text),
        col("created_at", Text),
    ],
    key: &["mdtrt_id"],
    ordered: false,
    indexes: &[&["psn_no", "begin_at"], &["institution", "begin_at"]],
};

pub const FEE_LINES: TableDef = TableDef {
    name: "fee_lines",
    columns: &[
        col("mdtrt_id", Text),
        col("serial", Text),
        col("psn_no", Text),
        col("batch", Text),
        col("code", Text),
        col("his_code", Text),
        col("name", Text),
        col("price_micro", Int),
        col("quantity_e4", Int),
        col("amount_fen", Int),
        col("occurred_at", Text),
        opt("refund_of", Text),
        opt("class", Text),
        col("selfpay_bp", Int),
        opt("price_cap_micro", Int),
        col("fully_selfpaid_fen", Int),
        col("over_limit_fen", Int),
        col("first_selfpay_fen", Int),
        col("in_scope_fen", Int),
        col("state", Text),
        opt("settled_by", Text),
        col("rx_no", Text),
        col("dept_code", Text),
        col("dept_name", Text),
        col("doctor_code", Text),
        col("doctor_name", Text),
        col("steps", Text),
    ],
    key: &["mdtrt_id", "serial"],
    ordered: true,
    indexes: &[],
};

pub const SETTLEMENTS: TableDef = TableDef {
    name: "settlements",
    columns: &[
        col("setl_id", Text),
        col("psn_no", Text),
        col("mdtrt_id", Text),
        col("institution", Text),
        col("insutype", Text),
        col("psn_type", Text),
        col("med_type", Text),
        col("visit_kind", Text),
        col("clr_type", Text),
        col("at", Text),
        col("medfee_fen", Int),
        col("fully_selfpaid_fen", Int),
        col("over_limit_fen", Int),
        col("first_selfpay_fen", Int),
        col("in_scope_fen", Int),
        col("deductible_fen", Int),
        col("deductible_standard_fen", Int),
        col("fund_fen", Int),
        col("account_current_fen", Int),
        col("account_prior_fen", Int),
        col("cash_fen", Int),
        col("fund_share_bp", Int),
        col("balance_after_fen", Int),
        col("change", Text),
        col("year", Int),
        col("policy", Text),
        col("status", Text),
        opt("status_ref", Text),
        col("msgid", Text),
        col("lines", Text),
        col("insured_admdvs", Text),
        col("treated_admdvs", Text),
        col("cert_type", Text),
        col("cert_no", Text),
        col("invoice_no", Text),
        col("mid_stay", Int),
        col("account_used", Int),
        col("folded", Text),
        col("steps", Text),
    ],
    key: &["setl_id"],
    ordered: false,
    indexes: &[&["psn_no", "at"], &["mdtrt_id"], &["institution", "at"], &["treated_admdvs", "insured_admdvs", "at"]],
};

pub const MESSAGES: TableDef = TableDef {
    name: "messages",
    columns: &[
        col("msgid", Text),
        col("institution", Text),
        col("infno", Text),
        col("request_hash", Text),
        col("response", Blob),
        col("at", Text),
        col("effect", Text),
        opt("reversed_by", Text),
    ],
    key: &["msgid"],
    ordered: false,
    indexes: &[],
};

pub const REGISTRATIONS: TableDef = TableDef {
    name: "disease_registrations",
    columns: &[
        col("serial", Text),
        col("psn_no", Text),
        col("code", Text),
        col("name", Text),
        col("begin_on", Text),
        col("end_on", Text),
        col("institution", Text),
        col("revoked", Int),
        col("msgid", Text),
    ],
    key: &["serial"],
    ordered: false,
    indexes: &[&["psn_no"]],
};

pub const SIGN_INS: TableDef = TableDef {
    name: "sign_ins",
    columns: &[
        col("sign_no", Text),
        col("institution", Text),
        col("operator", Text),
        col("signed_in_at", Text),
        opt("signed_out_at", Text),
    ],
    key: &["sign_no"],
    ordered: false,
    indexes: &[],
};

pub const TRANSFERS: TableDef = TableDef {
    name: "transfers",
    columns: &[col("id", Text), col("code", Text), col("at", Text), col("reference", Text)],
    key: &["id"],
    ordered: true,
    indexes: &[],
};

pub const POSTINGS: TableDef = TableDef {
    name: "postings",
    columns: &[
        col("transfer_id", Text),
        col("idx", Int),
        col("account", Text),
        col("side", Text),
        col("amount_fen", Int),
    ],
    key: &["transfer_id", "idx"],
    ordered: false,
    indexes: &[&["account"]],
};

pub const SEQUENCES: TableDef = TableDef {
    name: "sequences",
    columns: &[col("name", Text), col("value", Int)],
    key: &["name"],
    ordered: false,
    indexes: &[],
};

pub const CATALOGUE: TableDef = TableDef {
    name: "catalogue",
    columns: &[
        col("code", Text),
        col("begin_on", Text),
        col("end_on", Text),
        col("name", Text),
        col("class", Text),
        col("first_selfpay_bp", Int),
        opt("price_cap_micro", Int),
        col("item_type", Text),
        col("list_type", Text),
    ],
    key: &["code", "begin_on"],
    ordered: false,
    indexes: &[],
};

pub const AUDIT_LOG: TableDef = TableDef {
    name: "audit_log",
    columns: &[col("at", Text), col("actor", Text), col("action", Text), col("subject", Text), col("reason", Text)],
    key: &[],
    ordered: true,
    indexes: &[&["subject"]],
};

pub const FILES: TableDef = TableDef {
    name: "files",
    columns: &[
        col("file_qury_no", Text),
        col("institution", Text),
        col("filename", Text),
        col("content", Blob),
        col("at", Text),
    ],
    key: &["file_qury_no"],
    ordered: false,
    indexes: &[],
};

pub const CARD_APPLICATIONS: TableDef = TableDef {
    name: "card_applications",
    columns: &[
        col("id", Text),
        col("psn_no", Text),
        opt("employer", Text),
        col("registered_on", Text),
        col("bank", Text),
        col("card_no", Text),
        opt("photo_paid_on", Text),
        opt("forms_paid_on", Text),
        opt("submitted_on", Text),
        opt("produced_on", Text),
        opt("received_on", Text),
        opt("issued_on", Text),
        opt("replaces", Text),
        col("created_at", Text),
    ],
    key: &["id"],
    ordered: false,
    indexes: &[&["psn_no"], &["employer"]],
};

pub const CARD_TRANSACTIONS: TableDef = TableDef {
    name: "card_transactions",
    columns: &[
        col("card_no", Text),
        col("seq", Int),
        col("at", Text),
        col("setl_id", Text),
        col("institution", Text),
        col("medfee_fen", Int),
        col("account_fen", Int),
        col("cash_fen", Int),
        col("balance_after_fen", Int),
        col("printed", Int),
    ],
    key: &["card_no", "seq"],
    ordered: false,
    indexes: &[],
};

pub const CLEARING_NOTICES: TableDef = TableDef {
    name: "clearing_notices",
    columns: &[
        col("id", Text),
        col("psn_no", Text),
        col("old_card", Text),
        col("old_bank", Text),
        col("new_bank", Text),
        col("issued_at", Text),
        opt("confirmed_at", Text),
        opt("moved_fen", Int),
    ],
    key: &["id"],
    ordered: false,
    indexes: &[&["psn_no"]],
};

pub const EVOUCHERS: TableDef = TableDef {
    name: "evouchers",
    columns: &[col("psn_no", Text), col("channel", Text), col("activated_at", Text), opt("revoked_before", Text)],
    key: &["psn_no"],
    ordered: false,
    indexes: &[],
};

pub const GRANTS: TableDef = TableDef {
    name: "evoucher_grants",
    columns: &[
        col("hash", Text),
        col("kind", Text),
        col("psn_no", Text),
        opt("institution", Text),
        col("issued_at", Text),
        col("expires_at", Text),
        opt("used_at", Text),
        opt("used_by", Text),
        opt("used_ref", Text),
    ],
    key: &["hash"],
    ordered: false,
    indexes: &[&["psn_no"]],
};

/// A visit's diagnoses as uploaded (2203, 2401–2403): one row per visit, the list as JSON.
pub const DIAGNOSES: TableDef = TableDef {
    name: "visit_diagnoses",
    columns: &[col("mdtrt_id", Text), col("psn_no", Text), col("entries", Text)],
    key: &["mdtrt_id"],
    ordered: false,
    indexes: &[],
};

/// Every table, in creation order.
pub const TABLES: [&TableDef; 27] = [
    &META,
    &REGIONS,
    &EMPLOYERS,
    &INSTITUTIONS,
    &PERSONS,
    &CARDS,
    &ACCOUNTS,
    &ACCUMULATORS,
    &VISITS,
    &FEE_LINES,
    &SETTLEMENTS,
    &MESSAGES,
    &REGISTRATIONS,
    &SIGN_INS,
    &TRANSFERS,
    &POSTINGS,
    &SEQUENCES,
    &CATALOGUE,
    &AUDIT_LOG,
    &crate::schema::CREDENTIALS,
    &FILES,
    &CARD_APPLICATIONS,
    &CARD_TRANSACTIONS,
    &CLEARING_NOTICES,
    &EVOUCHERS,
    &GRANTS,
    &DIAGNOSES,
];

pub const CREDENTIALS: TableDef = TableDef {
    name: "credentials",
    columns: &[
        col("subject", Text),
        col("kind", Text),
        col("hash", Text),
        col("must_change", Int),
        col("failures", Int),
        opt("locked_until", Text),
        col("roles", Text),
        col("updated_at", Text),
    ],
    key: &["subject", "kind"],
    ordered: false,
    indexes: &[],
};

/// The SQL dialect of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The column that keeps insertion order in ordered tables.
    pub fn order_column(self) -> &'static str {
        match self {
            Dialect::Sqlite => "rowid",
            Dialect::Postgres => "seq",
        }
    }

    fn ty(self, ty: Ty) -> &'static str {
        match (self, ty) {
            (Dialect::Sqlite, Ty::Int) => "INTEGER",
            (Dialect::Sqlite, Ty::Text) => "TEXT",
            (Dialect::Sqlite, Ty::Blob) => "BLOB",
            (Dialect::Postgres, Ty::Int) => "BIGINT",
            (Dialect::Postgres, Ty::Text) => "TEXT",
            (Dialect::Postgres, Ty::Blob) => "BYTEA",
        }
    }

    /// `CREATE TABLE` and `CREATE INDEX` statements for a table.
    pub fn ddl(self, table: &TableDef) -> Vec<String> {
        let mut columns: Vec<String> = Vec::new();
        if self == Dialect::Postgres && table.ordered {
            columns.push("seq BIGINT GENERATED BY DEFAULT AS IDENTITY".to_string());
        }
        for column in table.columns {
            let null = if column.nullable { "" } else { " NOT NULL" };
            columns.push(format!("{} {}{null}", column.name, self.ty(column.ty)));
        }
        if !table.key.is_empty() {
            columns.push(format!("PRIMARY KEY ({})", table.key.join(", ")));
        } else if self == Dialect::Postgres {
            columns[0] = format!("{} PRIMARY KEY", columns[0]);
        }
        let mut statements = vec![format!("CREATE TABLE IF NOT EXISTS {} ({})", table.name, columns.join(", "))];
        for index in table.indexes {
            statements.push(format!(
                "CREATE INDEX IF NOT EXISTS {}_{} ON {} ({})",
                table.name,
                index.join("_"),
                table.name,
                index.join(", ")
            ));
        }
        statements
    }
}

/// Schema versions; each migration is the DDL to go from the previous version.
pub const SCHEMA_VERSION: i64 = 1;

/// The statements that bring an empty database to [`SCHEMA_VERSION`].
pub fn migration_v1(dialect: Dialect) -> Vec<String> {
    TABLES.iter().flat_map(|table| dialect.ddl(table)).collect()
}
