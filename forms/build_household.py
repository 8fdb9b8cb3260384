"""Writes the bundled household form ``household.xlsx``.

The workbook is the source of truth (commune staff edit it in Excel); this script only
produced the first version and can regenerate it when the form is changed in code review.
Run: ``python -m forms.build_household``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

OUTPUT = Path(__file__).resolve().parent / "household.xlsx"
VI, EN = "Vietnamese (vi)", "English (en)"

SURVEY_COLUMNS = [
    "type",
    "name",
    f"label::{VI}",
    f"label::{EN}",
    f"hint::{VI}",
    f"hint::{EN}",
    "required",
    f"required_message::{VI}",
    f"required_message::{EN}",
    "relevant",
    "constraint",
    f"constraint_message::{VI}",
    f"constraint_message::{EN}",
    "calculation",
    "default",
    "choice_filter",
    "repeat_count",
    "appearance",
]


def row(
    kind: str,
    name: str = "",
    vi: str = "",
    en: str = "",
    *,
    hint: tuple[str, str] = ("", ""),
    required: str = "",
    required_message: tuple[str, str] = ("", ""),
    relevant: str = "",
    constraint: str = "",
    message: tuple[str, str] = ("", ""),
    calculation: str = "",
    default: str = "",
    choice_filter: str = "",
    repeat_count: str = "",
    appearance: str = "",
) -> list[str]:
    return [
        kind,
        name,
        vi,
        en,
        *hint,
        required,
        *required_message,
        relevant,
        constraint,
        *message,
        calculation,
        default,
        choice_filter,
        repeat_count,
        appearance,
    ]


YES = "yes"
AGE_15 = "${age} >= 15"
THIS_YEAR = "int(format-date(today(), '%Y'))"
AGE_FROM_DATE = (
    f"{THIS_YEAR} - int(format-date(${{birth_date}}, '%Y'))"
    " - if(int(format-date(today(), '%m%d')) < int(format-date(${birth_date}, '%m%d')), 1, 0)"
)
AGE = (
    f"if(${{birth_known}} = 'full_date' and string-length(${{birth_date}}) > 0, {AGE_FROM_DATE}, "
    f"if(${{birth_known}} = 'year_only' and string-length(${{birth_year}}) > 0, "
    f"{THIS_YEAR} - ${{birth_year}}, ''))"
)
NEEDS_SUPPORT = (
    "${employment_status} = 'no_job' or ${employment_status} = 'looking'"
    " or ${employment_status} = 'unwilling' or ${employment_status} = 'homemaker'"
    " or (${employment_status} = 'employed' and (${job_stable} = 'no' or ${wants_expand} = 'yes'))"
)

SURVEY: list[list[str]] = [
    row("note", "intro_household", "Phần A. Thông tin chung của hộ", "Part A. Household"),
    row("begin group", "household", "Thông tin hộ", "Household"),
    # In the chat the code comes from the household picked and is never asked; in ODK
    # and Kobo it is typed, and the import finds the household by it.
    row(
        "text",
        "household_code",
        "Mã hộ (theo danh sách rà soát)",
        "Household code (as on the review list)",
        hint=("Ví dụ: H001", "For example: H001"),
        required=YES,
    ),
    row(
        "select_one category",
        "category",
        "Hộ thuộc diện nào trong danh sách năm trước?",
        "Which list was the household on last year?",
        required=YES,
    ),
    row(
        "select_one area_type",
        "area_type",
        "Hộ ở khu vực nào?",
        "Where does the household live?",
        required=YES,
    ),
    row(
        "select_one durability",
        "house_wall",
        "Tường nhà làm bằng vật liệu gì?",
        "What are the house walls made of?",
        hint=(
            "Bền chắc: gạch, đá, bê tông, gỗ bền. Không bền chắc: tre, lá, đất, tôn tạm...",
            "Durable: brick, stone, concrete, hardwood. Not durable: bamboo, leaves, mud...",
        ),
        required=YES,
    ),
    row(
        "select_one durability",
        "house_column",
        "Cột nhà (khung nhà) làm bằng vật liệu gì?",
        "What are the house columns (frame) made of?",
        hint=(
            "Bền chắc: bê tông cốt thép, gạch, đá, sắt thép, gỗ bền.",
            "Durable: reinforced concrete, brick, stone, steel, hardwood.",
        ),
        required=YES,
    ),
    row(
        "select_one durability",
        "house_roof",
        "Mái nhà làm bằng vật liệu gì?",
        "What is the roof made of?",
        hint=(
            "Bền chắc: bê tông, ngói, tôn, fibro xi măng. Không bền chắc: lá, tranh, tre...",
            "Durable: concrete, tiles, metal sheets, fibre cement. Not durable: leaves, thatch.",
        ),
        required=YES,
    ),
    row(
        "decimal",
        "floor_area_m2",
        "Tổng diện tích ở của nhà là bao nhiêu mét vuông?",
        "What is the total living floor area, in square metres?",
        hint=("Ví dụ: 35 hoặc 42,5", "For example: 35 or 42.5"),
        required=YES,
        constraint=". > 0 and . <= 1000",
        message=(
            "Diện tích phải lớn hơn 0 và không quá 1.000 m².",
            "The area must be above 0 and at most 1,000 m².",
        ),
    ),
    row(
        "select_one water_source",
        "water_source",
        "Nguồn nước sinh hoạt chính của hộ là gì?",
        "What is the household's main source of drinking water?",
        required=YES,
    ),
    row(
        "select_one latrine",
        "latrine",
        "Hộ sử dụng loại nhà tiêu nào?",
        "What kind of toilet does the household use?",
        required=YES,
    ),
    row(
        "select_multiple info_devices",
        "info_devices",
        "Hộ có những phương tiện tiếp cận thông tin nào?",
        "Which information devices does the household have?",
        required=YES,
        constraint="not(selected(., 'none') and count-selected(.) > 1)",
        message=(
            "Không thể chọn “Không có thiết bị nào” cùng với thiết bị khác.",
            "“None of these” cannot be combined with a device.",
        ),
    ),
    row(
        "select_one waste_disposal",
        "waste_disposal",
        "Rác thải sinh hoạt của hộ được xử lý thế nào?",
        "How is the household's waste disposed of?",
        required=YES,
    ),
    row(
        "integer",
        "income_per_capita_month",
        "Thu nhập bình quân mỗi người một tháng khoảng bao nhiêu đồng?",
        "Roughly how much income per person per month (VND)?",
        hint=(
            "Có thể bỏ qua nếu chưa ước tính được. Ví dụ: 1,5 triệu hoặc 1.500.000",
            "You may skip this if unknown. For example: 1.5 million or 1,500,000",
        ),
        constraint=". >= 0 and . <= 50000000",
        message=(
            "Thu nhập phải từ 0 đến 50 triệu đồng mỗi người mỗi tháng.",
            "Income must be between 0 and 50 million VND per person per month.",
        ),
    ),
    row(
        "select_one yes_no",
        "housing_difficulty",
        "Hộ có đang khó khăn về nhà ở không (nhà dột nát, cần hỗ trợ xây, sửa)?",
        "Does the household have housing difficulties (needs building or repair support)?",
        required=YES,
    ),
    row(
        "integer",
        "member_count",
        "Hộ có bao nhiêu nhân khẩu (kể cả chủ hộ)?",
        "How many members does the household have (including the head)?",
        required=YES,
        constraint=". >= 1 and . <= 30",
        message=("Số nhân khẩu phải từ 1 đến 30.", "Members must be between 1 and 30."),
    ),
    row("end group"),
    row("note", "intro_members", "Phần B. Thông tin từng thành viên", "Part B. Each member"),
    row(
        "begin repeat",
        "members",
        "Thành viên",
        "Member",
        repeat_count="${member_count}",
    ),
    row("calculate", "member_no", calculation="position(..)"),
    row(
        "text",
        "name",
        # The chat's header already says which member ("👤 Thành viên 1/3").
        "Họ và tên",
        "Full name",
        required=YES,
        constraint="string-length(normalize-space(.)) >= 2",
        message=("Vui lòng nhập họ và tên đầy đủ.", "Please enter the full name."),
    ),
    row("select_one sex", "sex", "Giới tính của ${name}?", "Sex of ${name}?", required=YES),
    row(
        "select_one birth_known",
        "birth_known",
        "Biết ngày sinh đầy đủ của ${name} hay chỉ biết năm sinh?",
        "Is ${name}'s full date of birth known, or only the year?",
        required=YES,
    ),
    row(
        "date",
        "birth_date",
        "Ngày sinh của ${name} (ngày/tháng/năm)?",
        "Date of birth of ${name} (day/month/year)?",
        hint=("Ví dụ: 12/3/1985", "For example: 12/3/1985"),
        required=YES,
        relevant="${birth_known} = 'full_date'",
        constraint=". <= today()",
        message=("Ngày sinh không được sau hôm nay.", "The birth date cannot be in the future."),
    ),
    row(
        "integer",
        "birth_year",
        "Năm sinh của ${name}?",
        "Year of birth of ${name}?",
        hint=("Ví dụ: 1985", "For example: 1985"),
        required=YES,
        relevant="${birth_known} = 'year_only'",
        constraint=f". >= 1900 and . <= {THIS_YEAR}",
        message=(
            "Năm sinh phải từ 1900 đến năm nay.",
            "The birth year must be between 1900 and this year.",
        ),
        appearance="year",
    ),
    row(
        "select_one relation",
        "relation",
        "${name} có quan hệ thế nào với chủ hộ?",
        "What is ${name}'s relationship to the household head?",
        required=YES,
        constraint=". != 'head' or count(../../members[relation = 'head']) <= 1",
        message=("Mỗi hộ chỉ có một chủ hộ.", "A household has only one head."),
    ),
    row("calculate", "age", calculation=AGE),
    row("begin group", "labour", "Lao động, việc làm", "Work", relevant=AGE_15),
    row(
        "select_one yes_no",
        "labour_capacity",
        "${name} còn khả năng lao động không?",
        "Is ${name} still able to work?",
        required=YES,
    ),
    row(
        "select_one incapacity_reason",
        "incapacity_reason",
        "Vì sao ${name} không còn khả năng lao động?",
        "Why is ${name} unable to work?",
        required=YES,
        relevant="${labour_capacity} = 'no'",
    ),
    row(
        "select_one employment_status",
        "employment_status",
        "Tình trạng việc làm hiện nay của ${name}?",
        "What is ${name}'s current employment status?",
        required=YES,
        relevant="${labour_capacity} = 'yes'",
        choice_filter="capacity = ${labour_capacity}",
        constraint="not(. = 'unable' and ${labour_capacity} = 'yes')",
        message=(
            "Người còn khả năng lao động không thể có tình trạng “không có khả năng lao động”.",
            "A member able to work cannot have the status “unable to work”.",
        ),
    ),
    row(
        "select_one yes_no",
        "job_stable",
        "Việc làm của ${name} có ổn định không?",
        "Is ${name}'s job stable?",
        required=YES,
        relevant="${employment_status} = 'employed'",
    ),
    row(
        "select_one yes_no",
        "wants_expand",
        "${name} có muốn mở rộng sản xuất, kinh doanh không?",
        "Does ${name} want to expand production or business?",
        required=YES,
        relevant="${employment_status} = 'employed'",
    ),
    row(
        "select_multiple support_needs",
        "support_needs",
        "${name} cần hỗ trợ gì?",
        "What support does ${name} need?",
        # How to pick several is the chat's own hint; this says only what applies here.
        hint=("Bỏ qua nếu không cần hỗ trợ.", "Skip if no support is needed."),
        relevant=NEEDS_SUPPORT,
    ),
    row(
        "text",
        "training_trade",
        "${name} muốn học nghề gì?",
        "Which trade does ${name} want to learn?",
        required=YES,
        relevant="selected(${support_needs}, 'vocational_training')",
    ),
    row(
        "select_multiple production_support_kinds",
        "production_support_kinds",
        "${name} cần hỗ trợ sản xuất loại nào?",
        "Which kind of production support does ${name} need?",
        required=YES,
        relevant="selected(${support_needs}, 'production_support')",
    ),
    row("end group"),
    row(
        "select_one yes_no",
        "health_insurance",
        "${name} có thẻ bảo hiểm y tế còn hạn không?",
        "Does ${name} have a valid health insurance card?",
        required=YES,
    ),
    row(
        "select_one yes_no",
        "in_school",
        "${name} hiện có đang đi học không?",
        "Is ${name} currently attending school?",
        required=YES,
        relevant="${age} >= 3 and ${age} <= 30",
        constraint="not(. = 'no' and ${employment_status} = 'studying')",
        message=(
            "Ở trên đã ghi tình trạng việc làm là “đang đi học”.",
            "The employment status above says “in school”.",
        ),
    ),
    row(
        "select_one school_level",
        "school_level",
        "${name} đang học cấp nào?",
        "Which level is ${name} attending?",
        required=YES,
        relevant="${in_school} = 'yes'",
        constraint=(
            "not(. = 'preschool' and ${age} > 6) and not(. = 'college_university' and ${age} < 16)"
        ),
        message=(
            "Cấp học không phù hợp với tuổi của thành viên.",
            "This level does not fit the member's age.",
        ),
    ),
    row(
        "select_one education_level",
        "education_level",
        "Trình độ học vấn cao nhất đã tốt nghiệp của ${name}?",
        "Highest general education completed by ${name}?",
        required=YES,
        relevant=AGE_15,
    ),
    row(
        "select_one vocational_level",
        "vocational_level",
        "Trình độ đào tạo nghề, chuyên môn cao nhất của ${name}?",
        "Highest vocational or professional qualification of ${name}?",
        required=YES,
        relevant=AGE_15,
    ),
    row(
        "select_one yes_no",
        "onjob_training",
        "${name} có được đào tạo nghề tại nơi làm việc (có chứng nhận) không?",
        "Has ${name} had certified on-the-job training?",
        required=YES,
        relevant="${age} >= 16 and ${age} <= 30",
    ),
    row(
        "select_one yes_no",
        "uses_internet",
        "${name} có sử dụng điện thoại, internet không?",
        "Does ${name} use a phone or the internet?",
        required=YES,
        relevant="${age} >= 6",
    ),
    row(
        "select_one yes_no",
        "malnourished",
        "${name} có bị suy dinh dưỡng (thấp còi hoặc nhẹ cân) không?",
        "Is ${name} malnourished (stunted or underweight)?",
        required=YES,
        relevant="${age} < 16",
    ),
    row(
        "select_one yes_no",
        "pension_or_allowance",
        "${name} có hưởng lương hưu hoặc trợ cấp hằng tháng không?",
        "Does ${name} receive a pension or a monthly allowance?",
        hint=(
            "Lương hưu, trợ cấp BHXH hằng tháng, trợ cấp người có công, trợ cấp xã hội.",
            "Pension, monthly social insurance, veterans' or social assistance allowance.",
        ),
        required=YES,
        relevant=AGE_15,
    ),
    row("end repeat"),
    row(
        "note",
        "outro",
        "Cảm ơn! Đã ghi nhận đầy đủ thông tin của hộ.",
        "Thank you! All household information is recorded.",
    ),
]

YES_NO: list[tuple[str, ...]] = [("yes", "Có", "Yes"), ("no", "Không", "No")]

CHOICES: dict[str, list[tuple[str, ...]]] = {
    "category": [
        ("poor", "Hộ nghèo", "Poor household"),
        ("near_poor", "Hộ cận nghèo", "Near-poor household"),
        (
            "escaped",
            "Hộ mới thoát nghèo (trong vòng 36 tháng)",
            "Recently escaped poverty (within 36 months)",
        ),
    ],
    "area_type": [("rural", "Nông thôn", "Rural"), ("urban", "Thành thị", "Urban")],
    "durability": [
        ("durable", "Bền chắc", "Durable"),
        ("not_durable", "Không bền chắc", "Not durable"),
    ],
    "yes_no": YES_NO,
    "water_source": [
        ("piped", "Nước máy", "Piped water"),
        ("drilled_well", "Giếng khoan", "Drilled well"),
        ("protected_dug_well", "Giếng đào có bảo vệ", "Protected dug well"),
        ("protected_spring", "Nước khe, mó có bảo vệ", "Protected spring"),
        ("rainwater", "Nước mưa", "Rainwater"),
        ("bottled", "Nước đóng chai, bình", "Bottled water"),
        ("unprotected_well", "Giếng đào không có bảo vệ", "Unprotected well"),
        ("unprotected_spring", "Nước khe, mó không có bảo vệ", "Unprotected spring"),
        ("surface_water", "Nước sông, suối, ao, hồ, kênh", "Surface water"),
        ("other", "Nguồn khác", "Other"),
    ],
    "latrine": [
        ("septic", "Tự hoại", "Septic tank"),
        ("semi_septic", "Bán tự hoại", "Semi-septic tank"),
        ("pour_flush", "Dội nước", "Pour-flush"),
        ("double_vault", "Hai ngăn", "Double-vault"),
        ("ventilated_pit", "Hố xí có ống thông hơi", "Ventilated pit"),
        ("unimproved_pit", "Hố xí đơn giản", "Unimproved pit"),
        ("bucket", "Thùng, cầu tõm", "Bucket or hanging toilet"),
        ("none", "Không có nhà tiêu", "No toilet"),
        ("other", "Loại khác", "Other"),
    ],
    "info_devices": [
        ("tv", "Ti vi", "TV"),
        ("radio", "Đài, radio", "Radio"),
        ("computer", "Máy tính", "Computer"),
        ("smartphone", "Điện thoại thông minh", "Smartphone"),
        ("phone", "Điện thoại thường", "Basic phone"),
        ("none", "Không có thiết bị nào", "None of these"),
    ],
    "waste_disposal": [
        ("collected", "Được thu gom", "Collected"),
        ("self_treated", "Tự xử lý hợp vệ sinh (ủ, chôn, đốt)", "Treated by the household"),
        ("none", "Không xử lý, vứt bỏ bừa bãi", "Not treated"),
    ],
    "sex": [("male", "Nam", "Male"), ("female", "Nữ", "Female")],
    "birth_known": [
        ("full_date", "Biết ngày sinh đầy đủ", "Full date known"),
        ("year_only", "Chỉ biết năm sinh", "Only the year"),
    ],
    "relation": [
        ("head", "Chủ hộ", "Head"),
        ("spouse", "Vợ, chồng", "Spouse"),
        ("child", "Con", "Child"),
        ("parent", "Cha, mẹ", "Parent"),
        ("grandchild", "Cháu", "Grandchild"),
        ("sibling", "Anh, chị, em", "Sibling"),
        ("other", "Quan hệ khác", "Other"),
    ],
    "incapacity_reason": [
        ("sickness", "Ốm đau, bệnh tật", "Sickness"),
        ("disability", "Khuyết tật", "Disability"),
        ("accident", "Tai nạn", "Accident"),
        ("old_age", "Tuổi già", "Old age"),
    ],
    "employment_status": [
        ("employed", "Có việc làm", "Employed", "yes"),
        ("no_job", "Không có việc làm", "No job", "yes"),
        ("looking", "Đang tìm việc làm", "Looking for work", "yes"),
        ("unable", "Không có khả năng lao động", "Unable to work", "no"),
        ("studying", "Đang đi học", "In school", "yes"),
        ("unwilling", "Không muốn đi làm", "Does not want to work", "yes"),
        ("homemaker", "Nội trợ", "Homemaker", "yes"),
    ],
    "support_needs": [
        ("vocational_training", "Học nghề", "Vocational training"),
        ("job_referral", "Giới thiệu việc làm", "Job referral"),
        ("overseas_work", "Đi làm việc ở nước ngoài theo hợp đồng", "Contract work abroad"),
        ("loan", "Vay vốn", "Loan"),
        ("production_support", "Hỗ trợ phát triển sản xuất", "Production support"),
    ],
    "production_support_kinds": [
        ("livestock", "Con giống (gia súc, gia cầm, thủy sản)", "Livestock"),
        ("crops", "Cây giống", "Seedlings"),
        ("equipment", "Máy móc, công cụ", "Equipment"),
        ("technique", "Kỹ thuật sản xuất", "Farming technique"),
    ],
    "school_level": [
        ("preschool", "Mầm non", "Preschool"),
        ("primary", "Tiểu học", "Primary"),
        ("lower_secondary", "Trung học cơ sở", "Lower secondary"),
        ("upper_secondary", "Trung học phổ thông", "Upper secondary"),
        ("vocational", "Trường nghề (sơ cấp, trung cấp)", "Vocational school"),
        ("college_university", "Cao đẳng, đại học", "College or university"),
    ],
    "education_level": [
        ("none", "Chưa tốt nghiệp tiểu học", "Primary not completed"),
        ("primary", "Tốt nghiệp tiểu học", "Primary"),
        ("lower_secondary", "Tốt nghiệp trung học cơ sở", "Lower secondary"),
        ("upper_secondary", "Tốt nghiệp trung học phổ thông", "Upper secondary"),
    ],
    "vocational_level": [
        ("none", "Chưa qua đào tạo", "None"),
        ("so_cap", "Sơ cấp", "Elementary vocational (sơ cấp)"),
        ("trung_cap", "Trung cấp", "Intermediate vocational (trung cấp)"),
        ("cao_dang", "Cao đẳng", "College (cao đẳng)"),
        ("university", "Đại học trở lên", "University or higher"),
    ],
}

SETTINGS = {
    "form_id": "rasoat_household",
    "form_title": "Phiếu rà soát hộ nghèo, hộ cận nghèo",
    "version": "2025.1",
    "default_language": VI,
}


def _sheet(workbook: Workbook, title: str, header: list[str], rows: list[list[Any]]) -> None:
    sheet = workbook.create_sheet(title)
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for values in rows:
        sheet.append([value if value != "" else None for value in values])
    sheet.freeze_panes = "A2"
    for column in sheet.columns:
        width = max(len(str(cell.value or "")) for cell in column)
        sheet.column_dimensions[column[0].column_letter].width = min(max(width, 10), 60)


def build(path: Path = OUTPUT) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)  # type: ignore[arg-type]
    _sheet(workbook, "survey", SURVEY_COLUMNS, SURVEY)
    choice_rows = [
        [list_name, name, vi, en, *extra]
        for list_name, items in CHOICES.items()
        for name, vi, en, *extra in items
    ]
    _sheet(
        workbook,
        "choices",
        ["list_name", "name", f"label::{VI}", f"label::{EN}", "capacity"],
        choice_rows,
    )
    _sheet(workbook, "settings", list(SETTINGS), [list(SETTINGS.values())])
    workbook.save(path)
    return path


if __name__ == "__main__":
    print(build())
