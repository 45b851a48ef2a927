//! Coded kinds of the national dictionaries: insurance type, person type, medical type,
//! certificate type, charge class, fund payment type, institution kind and level.

use std::fmt;
use std::str::FromStr;

use crate::ParseError;

/// Defines a `Copy` enum with a national code and a Chinese name per variant.
macro_rules! coded {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($variant:ident = $code:literal, $zh:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(#[doc = $zh] $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The national dictionary code.
            pub fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// The dictionary's Chinese name.
            pub fn name_zh(self) -> &'static str {
                match self {
                    $($name::$variant => $zh,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(code: &str) -> Result<$name, ParseError> {
                match code {
                    $($code => Ok($name::$variant),)+
                    _ => Err(ParseError::bilingual($what, format!("{code:?} is not a known code"), format!("{code}不是有效的代码"))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

coded!(
    /// 险种类型 `insutype`.
    InsuranceType, "insurance type" {
        EmployeeBasic = "310", "职工基本医疗保险";
        CivilServantSubsidy = "320", "公务员医疗补助";
        LargeAmountSubsidy = "330", "大额医疗费用补助";
        RetiredCadre = "340", "离休人员医疗保障";
        DisabledSoldier = "350", "一至六级残废军人医疗补助";
        RedArmyVeteran = "360", "老红军医疗保障";
        EnterpriseSupplementary = "370", "企业补充医疗保险";
        RuralCooperative = "380", "新型农村合作医疗";
        ResidentBasic = "390", "城乡居民基本医疗保险";
        UrbanResidentBasic = "391", "城镇居民基本医疗保险";
        ResidentCriticalIllness = "392", "城乡居民大病医疗保险";
        OtherSpecial = "399", "其他特殊人员医疗保障";
        LongTermCare = "410", "长期照护保险";
        Maternity = "510", "生育保险";
    }
);

impl InsuranceType {
    /// Whether this is a resident (城乡居民) scheme; residents have no personal account.
    pub fn is_resident(self) -> bool {
        matches!(
            self,
            InsuranceType::RuralCooperative
                | InsuranceType::ResidentBasic
                | InsuranceType::UrbanResidentBasic
                | InsuranceType::ResidentCriticalIllness
        )
    }
}

/// The broad group a person type belongs to, which is what policies distinguish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PersonTypeGroup {
    /// 在职: employees, civil servants and flexible employees in service.
    InService,
    /// 退休 and 离休.
    Retired,
    /// 城乡居民: adults, students, children.
    Resident,
}

coded!(
    /// 人员类别 `psn_type`.
    PersonType, "person type" {
        EmployeeInService = "1101", "职工在职";
        CivilServantInService = "1102", "公务员在职";
        FlexibleInService = "1103", "灵活就业在职";
        EmployeeRetired = "1201", "职工退休";
        CivilServantRetired = "1202", "公务员退休";
        FlexibleRetired = "1203", "灵活就业退休";
        RetiredCadre = "1300", "离休";
        Newborn = "1401", "新生儿";
        Preschool = "1402", "学龄前儿童";
        SchoolPupil = "1403", "中小学生";
        UniversityStudent = "1404", "大学生";
        MinorNotInSchool = "1405", "未成年(未入学)";
        ResidentAdult = "1501", "普通居民(成年)";
    }
);

impl PersonType {
    pub fn group(self) -> PersonTypeGroup {
        match self.code().as_bytes()[1] {
            b'1' => PersonTypeGroup::InService,
            b'2' | b'3' => PersonTypeGroup::Retired,
            _ => PersonTypeGroup::Resident,
        }
    }

    /// 公务员 flag (`cvlserv_flag`).
    pub fn is_civil_servant(self) -> bool {
        matches!(self, PersonType::CivilServantInService | PersonType::CivilServantRetired)
    }
}

coded!(
    /// 就诊凭证类型 `mdtrt_cert_type`.
    CertType, "certificate type" {
        EVoucherToken = "01", "医保电子凭证";
        IdNumber = "02", "居民身份证";
        Card = "03", "社会保障卡";
    }
);

coded!(
    /// 收费项目等级 `chrgitm_lv`: the catalogue class of an item.
    ChargeClass, "charge class" {
        ClassA = "01", "甲类";
        ClassB = "02", "乙类";
        SelfFunded = "03", "丙类(自费)";
    }
);

coded!(
    /// 基金支付类型 `fund_pay_type` of a `setldetail` row.
    FundPayType, "fund payment type" {
        EmployeePool = "310100", "职工基本医疗保险统筹基金";
        EmployeeAccount = "310200", "职工基本医疗保险个人账户基金";
        CivilServantSubsidy = "320100", "公务员医疗补助基金";
        LargeAmountSubsidy = "330100", "大额医疗费用补助基金";
        ResidentPool = "390100", "城乡居民基本医疗保险基金";
        ResidentCriticalIllness = "390200", "城乡居民大病医疗保险基金";
        MedicalAssistance = "610100", "医疗救助基金";
        HospitalBorne = "999996", "医院垫付";
        OtherFund = "999997", "其他基金";
    }
);

coded!(
    /// Whether a designated institution is a hospital (医疗机构) or a retail pharmacy (零售药店).
    InstitutionKind, "institution kind" {
        Hospital = "hospital", "定点医疗机构";
        Pharmacy = "pharmacy", "定点零售药店";
    }
);

coded!(
    /// A hospital's level, which sets deductibles and fund shares.
    InstitutionLevel, "institution level" {
        Tertiary = "tertiary", "三级";
        Secondary = "secondary", "二级";
        Primary = "primary", "一级";
        Community = "community", "社区卫生服务机构";
    }
);

/// 医疗类别 `med_type`: two digits (`11` general outpatient, `21` inpatient, …) or four for
/// regional extensions (`9901`). Unknown codes are kept: whether one is priced is the policy's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MedType(u16);

impl MedType {
    pub const GENERAL_OUTPATIENT: MedType = MedType(11);
    pub const OUTPATIENT_REGISTRATION: MedType = MedType(12);
    pub const EMERGENCY: MedType = MedType(13);
    pub const SPECIAL_OUTPATIENT: MedType = MedType(14);
    pub const ACCIDENT_OUTPATIENT: MedType = MedType(19);
    pub const GENERAL_INPATIENT: MedType = MedType(21);
    pub const TRANSFERRED_INPATIENT: MedType = MedType(23);
    pub const EMERGENCY_TO_INPATIENT: MedType = MedType(24);
    pub const PHARMACY: MedType = MedType(41);
    pub const MATERNITY_OUTPATIENT: MedType = MedType(51);
    pub const MATERNITY_INPATIENT: MedType = MedType(52);

    pub fn code(self) -> String {
        self.to_string()
    }

    /// The dictionary name, or "地方扩展医疗类别" for a code we do not name.
    pub fn name_zh(self) -> &'static str {
        match self.0 {
            11 => "普通门诊",
            12 => "门诊挂号",
            13 => "急诊",
            14 => "门诊慢特病",
            19 => "意外伤害门诊",
            21 => "普通住院",
            23 => "转外诊治住院",
            24 => "急诊转住院",
            41 => "定点药店购药",
            51 => "生育门诊",
            52 => "生育住院",
            53 => "计划生育手术费",
            _ => "地方扩展医疗类别",
        }
    }

    /// The codes `name_zh` names, for the dictionary query.
    pub const NAMED: [MedType; 12] = [
        MedType(11),
        MedType(12),
        MedType(13),
        MedType(14),
        MedType(19),
        MedType(21),
        MedType(23),
        MedType(24),
        MedType(41),
        MedType(51),
        MedType(52),
        MedType(53),
    ];
}

impl FromStr for MedType {
    type Err = ParseError;
    fn from_str(code: &str) -> Result<MedType, ParseError> {
        let shape_ok = (code.len() == 2 || code.len() == 4) && code.bytes().all(|b| b.is_ascii_digit());
        if !shape_ok || code.starts_with('0') {
            return Err(ParseError::bilingual(
                "medical type",
                format!("{code:?} is not a 2- or 4-digit code"),
                format!("{code}不是2位或4位的医疗类别代码"),
            ));
        }
        Ok(MedType(code.parse().expect("digits")))
    }
}

impl fmt::Display for MedType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for kind in InsuranceType::ALL {
            assert_eq!(kind.code().parse::<InsuranceType>(), Ok(*kind));
        }
        for kind in PersonType::ALL {
            assert_eq!(kind.code().parse::<PersonType>(), Ok(*kind));
        }
        assert_eq!(
            "311".parse::<InsuranceType>().unwrap_err().to_string(),
            "invalid insurance type: \"311\" is not a known code"
        );
        assert_eq!(PersonType::FlexibleInService.group(), PersonTypeGroup::InService);
        assert_eq!(PersonType::EmployeeRetired.group(), PersonTypeGroup::Retired);
        assert_eq!(PersonType::ResidentAdult.group(), PersonTypeGroup::Resident);
        assert!(InsuranceType::ResidentBasic.is_resident());
        assert_eq!("9901".parse::<MedType>().unwrap().to_string(), "9901");
        assert!("1".parse::<MedType>().is_err());
    }
}
