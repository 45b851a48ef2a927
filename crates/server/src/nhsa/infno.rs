//! The transaction codes (`infno`) this interface answers: one list, read from the envelope
//! once. Dispatch matches on it exhaustively, so no code is answered without being listed (in
//! 1901's `infno` dictionary and the guide) nor listed without being answered.

macro_rules! transactions {
    ($( $(#[$doc:meta])* $name:ident = $code:literal, $zh:literal; )*) => {
        /// A transaction of the national interface.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Infno {
            $( $(#[$doc])* $name, )*
        }

        impl Infno {
            /// Every transaction, in the order the guide lists them.
            pub const ALL: &'static [Infno] = &[$( Infno::$name, )*];

            /// The code (`infno`) as the envelope carries it.
            pub fn code(self) -> &'static str {
                match self { $( Infno::$name => $code, )* }
            }

            /// The transaction's Chinese name.
            pub fn name(self) -> &'static str {
                match self { $( Infno::$name => $zh, )* }
            }

            /// The transaction of a code; `None` for a code this interface does not answer.
            pub fn parse(code: &str) -> Option<Infno> {
                match code {
                    $( $code => Some(Infno::$name), )*
                    _ => None,
                }
            }
        }
    };
}

transactions! {
    /// 9001 签到
    SignIn = "9001", "签到";
    /// 9002 签退
    SignOut = "9002", "签退";
    /// 9101 文件上传
    FileUpload = "9101", "文件上传";
    /// 9102 文件下载
    FileDownload = "9102", "文件下载";
    /// 1101 人员信息获取
    PersonInfo = "1101", "人员信息获取";
    /// 1312 医保目录信息查询
    Catalogue = "1312", "医保目录信息查询";
    /// 1319 医保目录先自付比例信息查询
    SelfpayRatios = "1319", "医保目录先自付比例信息查询";
    /// 1901 字典表查询
    Dictionary = "1901", "字典表查询";
    /// 2001 人员待遇享受检查
    Eligibility = "2001", "人员待遇享受检查";
    /// 2101 药店预结算
    PharmacyPreSettle = "2101", "药店预结算";
    /// 2102 药店结算
    PharmacySettle = "2102", "药店结算";
    /// 2103 药店结算撤销
    PharmacyCancel = "2103", "药店结算撤销";
    /// 2201 门诊挂号
    OutpatientRegister = "2201", "门诊挂号";
    /// 2202 门诊挂号撤销
    OutpatientRegisterCancel = "2202", "门诊挂号撤销";
    /// 2203 门诊就诊信息上传
    OutpatientVisitInfo = "2203", "门诊就诊信息上传";
    /// 2203A 门诊就诊信息上传（A）
    OutpatientVisitInfoA = "2203A", "门诊就诊信息上传（A）";
    /// 2204 门诊费用明细信息上传
    OutpatientLines = "2204", "门诊费用明细信息上传";
    /// 2205 门诊费用明细信息撤销
    OutpatientLinesRevoke = "2205", "门诊费用明细信息撤销";
    /// 2206 门诊预结算
    OutpatientPreSettle = "2206", "门诊预结算";
    /// 2207 门诊结算
    OutpatientSettle = "2207", "门诊结算";
    /// 2208 门诊结算撤销
    OutpatientSettleCancel = "2208", "门诊结算撤销";
    /// 2301 住院费用明细上传
    InpatientLines = "2301", "住院费用明细上传";
    /// 2302 住院费用明细撤销
    InpatientLinesRevoke = "2302", "住院费用明细撤销";
    /// 2303 住院预结算
    InpatientPreSettle = "2303", "住院预结算";
    /// 2304 住院结算
    InpatientSettle = "2304", "住院结算";
    /// 2305 住院结算撤销
    InpatientSettleCancel = "2305", "住院结算撤销";
    /// 2401 入院办理
    Admission = "2401", "入院办理";
    /// 2402 出院办理
    Discharge = "2402", "出院办理";
    /// 2403 住院信息变更
    AdmissionChange = "2403", "住院信息变更";
    /// 2404 入院办理撤销
    AdmissionCancel = "2404", "入院办理撤销";
    /// 2405 出院办理撤销
    DischargeCancel = "2405", "出院办理撤销";
    /// 2503 人员慢特病备案
    DiseaseRegister = "2503", "人员慢特病备案";
    /// 2504 人员慢特病备案撤销
    DiseaseRevoke = "2504", "人员慢特病备案撤销";
    /// 2601 冲正交易
    Reversal = "2601", "冲正交易";
    /// 3201 医药机构费用结算对总账
    ReconcileTotals = "3201", "医药机构费用结算对总账";
    /// 3202 医药机构费用结算对明细账
    ReconcileDetail = "3202", "医药机构费用结算对明细账";
    /// 5201 就诊信息查询
    QueryVisits = "5201", "就诊信息查询";
    /// 5202 诊断信息查询
    QueryDiagnoses = "5202", "诊断信息查询";
    /// 5203 结算信息查询
    QuerySettlement = "5203", "结算信息查询";
    /// 5204 费用明细查询
    QueryLines = "5204", "费用明细查询";
    /// 5205 人员慢特病用药记录查询
    QuerySpecialDiseaseDrugs = "5205", "人员慢特病用药记录查询";
    /// 5206 人员累计信息查询
    QueryAccumulators = "5206", "人员累计信息查询";
    /// 5301 人员慢特病备案查询
    QueryRegistrations = "5301", "人员慢特病备案查询";
    /// 5302 人员定点信息查询
    QueryDesignations = "5302", "人员定点信息查询";
}
