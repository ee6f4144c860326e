"""Demo data of the palm-hospital (掌上医院) HIS simulator (seed 003); see ``palm_his``.

Plain dicts, one per entity, keyed by lower-case names that match the seed's field names where
possible (``dept_id``, ``doctor_name``, ``id_no`` ...), so the simulator's reply filler can pick
values by field name. Dates are ``datetime.date`` / ``datetime.datetime`` objects: the filler
renders them in whatever format each reply field documents.

Schedules (排班) are generated for today and the next 7 days at the moment they are asked for
(``schedules(today)``), so ids carry the date: ``SCHEDULE_ID = <doctor>-<yyyymmdd>-<duration>``
(``D001-20250101-1`` = 王建国, 2025-01-01, 上午) and ``TIME_ID = <SCHEDULE_ID>-<n>``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

Record = dict[str, Any]

DAYS_AHEAD = 7                      # schedules for today .. today + 7
WEEKDAYS = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


def id_check_digit(first17: str) -> str:
    """The GB 11643 check character of an 18-digit 身份证号."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(first17, weights))
    return "10X98765432"[total % 11]


def id_no(first17: str) -> str:
    return first17 + id_check_digit(first17)


def age_on(birthday: dt.date, today: dt.date) -> int:
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))


HOSPITALS: list[Record] = [
    {"hospital_id": "01", "hospital_name": "总院", "hospital_spell_code": "ZY",
     "hospital_stroke_code": "UB", "hospital_address": "解放路88号"},
    {"hospital_id": "02", "hospital_name": "东院", "hospital_spell_code": "DY",
     "hospital_stroke_code": "AB", "hospital_address": "庆春东路3号"},
]

DEPARTMENTS: list[Record] = [
    {"dept_id": "000001", "dept_name": "内科", "dept_short_name": "内", "dept_spell_code": "NK",
     "dept_stroke_code": "MT", "dept_address": "门诊楼2层", "dept_phone_no": "0571-88000001",
     "dept_remark": "普通内科门诊", "dept_category_id": "01", "dept_category_name": "内科系",
     "hospital_id": "01", "order_no": 1, "beds": ["普通床位", "双人间"]},
    {"dept_id": "000002", "dept_name": "外科", "dept_short_name": "外", "dept_spell_code": "WK",
     "dept_stroke_code": "QT", "dept_address": "门诊楼3层", "dept_phone_no": "0571-88000002",
     "dept_remark": "普通外科门诊", "dept_category_id": "02", "dept_category_name": "外科系",
     "hospital_id": "01", "order_no": 2, "beds": ["普通床位", "单人间"]},
    {"dept_id": "000003", "dept_name": "儿科", "dept_short_name": "儿", "dept_spell_code": "EK",
     "dept_stroke_code": "QT", "dept_address": "东院1层", "dept_phone_no": "0571-88000003",
     "dept_remark": "儿科门诊", "dept_category_id": "03", "dept_category_name": "儿科系",
     "hospital_id": "02", "order_no": 3, "beds": ["普通床位"]},
]

#: 号类: clinic id -> what a schedule of that class costs and is called.
CLINICS: dict[str, Record] = {
    "C01": {"clinic_id": "C01", "clinic_name": "普通号", "register_type_id": "1",
            "register_type_name": "普通门诊", "patient_type_id": "01", "patient_type_name": "普通",
            "total": 10.0},
    "C02": {"clinic_id": "C02", "clinic_name": "专家号", "register_type_id": "2",
            "register_type_name": "专家门诊", "patient_type_id": "02",
            "patient_type_name": "主任医师号", "total": 30.0},
}

DOCTORS: list[Record] = [
    {"doctor_id": "D001", "doctor_code": "1001", "doctor_name": "王建国", "doctor_sex": "男",
     "dept_id": "000001", "clinic_id": "C02", "doctor_contact_no": "13900000001",
     "doctor_post": "科主任", "doctor_medical_title_id": "231", "doctor_medical_title_name": "主任医师",
     "doctor_teach_title_id": "01", "doctor_teach_title_name": "教授",
     "doctor_skill": "高血压、糖尿病", "doctor_remark": "从事内科临床工作三十年",
     "spell_code": "WJG", "stroke_code": "GVL", "education_background": "博士"},
    {"doctor_id": "D002", "doctor_code": "1002", "doctor_name": "李芳", "doctor_sex": "女",
     "dept_id": "000001", "clinic_id": "C01", "doctor_contact_no": "13900000002",
     "doctor_post": "医师", "doctor_medical_title_id": "233", "doctor_medical_title_name": "主治医师",
     "doctor_teach_title_id": "03", "doctor_teach_title_name": "讲师",
     "doctor_skill": "呼吸道感染", "doctor_remark": "内科主治医师",
     "spell_code": "LF", "stroke_code": "SY", "education_background": "硕士"},
    {"doctor_id": "D003", "doctor_code": "2001", "doctor_name": "陈刚", "doctor_sex": "男",
     "dept_id": "000002", "clinic_id": "C02", "doctor_contact_no": "13900000003",
     "doctor_post": "副主任", "doctor_medical_title_id": "232",
     "doctor_medical_title_name": "副主任医师", "doctor_teach_title_id": "02",
     "doctor_teach_title_name": "副教授", "doctor_skill": "普外科微创手术",
     "doctor_remark": "外科副主任医师", "spell_code": "CG", "stroke_code": "BM",
     "education_background": "博士"},
    {"doctor_id": "D004", "doctor_code": "3001", "doctor_name": "赵敏", "doctor_sex": "女",
     "dept_id": "000003", "clinic_id": "C01", "doctor_contact_no": "13900000004",
     "doctor_post": "医师", "doctor_medical_title_id": "233", "doctor_medical_title_name": "主治医师",
     "doctor_teach_title_id": "03", "doctor_teach_title_name": "讲师",
     "doctor_skill": "小儿呼吸系统疾病", "doctor_remark": "儿科主治医师",
     "spell_code": "ZM", "stroke_code": "FT", "education_background": "硕士"},
]

#: Nurses, for /getDoctorAndNurse (flag 2).
NURSES: list[Record] = [
    {"dept_user_id": "N001", "dept_user_name": "周静", "dept_id": "000001",
     "dept_user_post": "护士长", "education_background": "本科", "skilled_field": "慢病护理"},
    {"dept_user_id": "N002", "dept_user_name": "吴晓", "dept_id": "000002",
     "dept_user_post": "护士", "education_background": "大专", "skilled_field": "术后护理"},
]

#: 午别: DURATION_ID -> name and its time slots (TIME_NAME, capacity).
DURATIONS: dict[str, Record] = {
    "1": {"duration_id": "1", "duration_name": "上午",
          "slots": [("08:00-08:30", 3), ("08:30-09:00", 3), ("09:00-09:30", 3),
                    ("09:30-10:00", 1)]},
    "2": {"duration_id": "2", "duration_name": "下午",
          "slots": [("14:00-14:30", 3), ("14:30-15:00", 3), ("15:00-15:30", 3),
                    ("15:30-16:00", 1)]},
}
#: Booked before the simulator started: the first slot of every schedule holds one booking.
PREBOOKED = {1: 1}

PATIENTS: list[Record] = [
    {"patient_id": "P0001", "patient_name": "张三", "patient_sex": "男",
     "birthday": dt.date(1990, 3, 7), "id_no": id_no("11010119900307123"),
     "phone_no": "13800000001", "card_no": "C0001", "health_card_id": "HC0001",
     "nation_name": "汉族", "patient_type_id": "01", "patient_type_name": "自费",
     "si_category": "0", "balance": 200.0, "balance_min": 0.0, "status": 1, "status_name": "正常",
     "recharge_flag": 1, "no_recharge_reason": "", "unit_name": "杭州示例科技有限公司",
     "post_addr": "杭州市西湖区文三路1号", "create_time": dt.datetime(2020, 3, 15, 9, 30, 0),
     "inpatient": None},
    {"patient_id": "P0002", "patient_name": "李四", "patient_sex": "女",
     "birthday": dt.date(1985, 6, 15), "id_no": id_no("33010619850615002"),
     "phone_no": "13800000002", "card_no": "C0002", "health_card_id": "HC0002",
     "nation_name": "汉族", "patient_type_id": "02", "patient_type_name": "医保",
     "si_category": "1", "balance": 1000.0, "balance_min": -500.0, "status": 1,
     "status_name": "正常", "recharge_flag": 1, "no_recharge_reason": "",
     "unit_name": "杭州示例学校", "post_addr": "杭州市上城区解放路2号",
     "create_time": dt.datetime(2019, 8, 1, 14, 0, 0),
     # 住院: admitted 5 days before today (see ``inpatient``)
     "inpatient": {"visit_no": "Z0002", "dept_id": "000002", "bed_no": "12", "days_in": 5}},
    {"patient_id": "P0003", "patient_name": "王小明", "patient_sex": "男",
     "birthday": dt.date(2015, 9, 9), "id_no": id_no("33010520150909001"),
     "phone_no": "13800000003", "card_no": "C0003", "health_card_id": "",
     "nation_name": "汉族", "patient_type_id": "01", "patient_type_name": "自费",
     "si_category": "0", "balance": 0.0, "balance_min": 0.0, "status": 2,
     "status_name": "挂失", "recharge_flag": -1, "no_recharge_reason": "就诊卡已挂失",
     "unit_name": "无", "post_addr": "杭州市滨江区江南大道3号",
     "create_time": dt.datetime(2021, 1, 5, 10, 0, 0), "inpatient": None},
]

#: Past outpatient visits (挂号/就诊记录); /register adds more at run time.
VISITS: list[Record] = [
    {"visit_id": "V0001", "patient_id": "P0001", "doctor_id": "D001", "days_ago": 1,
     "time": "09:00:00", "duration_id": "1", "queue_no": 3, "clinic_id": "C02",
     "chief_complaint": "头晕三天", "present_illness": "三天前无明显诱因出现头晕",
     "past_illness": "高血压病史五年", "physical_examination": "血压150/95mmHg",
     "presumptive_diagnosis": "高血压", "icd_name1": "原发性高血压", "icd_name2": "",
     "icd_name3": ""},
    {"visit_id": "V0002", "patient_id": "P0002", "doctor_id": "D003", "days_ago": 10,
     "time": "14:30:00", "duration_id": "2", "queue_no": 5, "clinic_id": "C02",
     "chief_complaint": "右下腹痛一天", "present_illness": "一天前出现右下腹疼痛",
     "past_illness": "无", "physical_examination": "麦氏点压痛",
     "presumptive_diagnosis": "急性阑尾炎", "icd_name1": "急性阑尾炎", "icd_name2": "",
     "icd_name3": ""},
]

#: Fee items per visit (门诊费用 / 处方); order_id groups them (缴费组别).
FEES: list[Record] = [
    {"id": "F0001", "visit_id": "V0001", "order_id": "O0001", "order_title": "西药处方",
     "item_category": "西药", "item_id": "M001", "item_name": "硝苯地平控释片", "price": 12.5,
     "quantity": 2, "unit": "盒", "paid": False},
    {"id": "F0002", "visit_id": "V0001", "order_id": "O0002", "order_title": "检验",
     "item_category": "检验", "item_id": "L001", "item_name": "血常规", "price": 20.0,
     "quantity": 1, "unit": "次", "paid": True},
    {"id": "F0003", "visit_id": "V0002", "order_id": "O0003", "order_title": "检查",
     "item_category": "检查", "item_id": "X001", "item_name": "腹部B超", "price": 120.0,
     "quantity": 1, "unit": "次", "paid": True},
]

#: Daily items of a hospital stay (住院费用): category, item id, name, price, quantity, unit.
STAY_ITEMS = [("床位费", "B001", "普通床位费", 60.0, 1, "天"), ("护理费", "N001", "二级护理", 30.0, 1, "天"),
              ("西药", "M101", "头孢呋辛钠注射液", 15.0, 2, "支")]

#: 电子处方 (prescriptions).
RECIPES: list[Record] = [
    {"recipe_id": "RX0001", "patient_id": "P0001", "visit_id": "V0001", "item_name": "硝苯地平控释片",
     "quantity": 2, "unit": "盒", "item_category": "西药", "price": 12.5, "total": 25.0},
]

#: 检验 (lis) / 检查 (pacs) reports.
REPORTS: list[Record] = [
    {"report_id": "LIS0001", "category": "lis", "patient_id": "P0001", "report_name": "血常规",
     "report_no": "B20240001", "dept_id": "000001", "sample": "全血", "days_ago": 1,
     "send_user_name": "王建国", "exam_user_name": "检验员甲", "audit_user_name": "审核员乙",
     "items": [
         {"id": "LIS0001-1", "item_name": "白细胞计数", "item_short_name": "WBC", "item_value": "11.2",
          "item_unit": "10^9/L", "item_tip": "↑", "item_range": "3.5-9.5", "item_category": 1},
         {"id": "LIS0001-2", "item_name": "血红蛋白", "item_short_name": "HGB", "item_value": "100",
          "item_unit": "g/L", "item_tip": "↓", "item_range": "115-150", "item_category": 2},
     ],
     "bacteria": [
         {"id": "LIS0001-2-1", "bacteria_name": "大肠埃希菌", "antibacterials_name": "头孢他啶",
          "result_value": "<=1", "result_range_kb": "21-27", "result_code": "S", "order_no": 1},
     ]},
    {"report_id": "PACS0001", "category": "pacs", "patient_id": "P0001", "report_name": "胸部正位片",
     "report_no": "X20240001", "dept_id": "000001", "sample": "无", "days_ago": 1,
     "send_user_name": "王建国", "exam_user_name": "技师甲", "audit_user_name": "审核员丙",
     "scan_method": "DR", "report_image": "https://pacs.example/img/PACS0001.jpg",
     "scan_view": "双肺纹理清晰", "diagnosis": "心肺未见明显异常", "write_user_name": "影像医师丁"},
]

#: 体检 (physical examination).
PEIS: list[Record] = [
    {"peis_id": "PE0001", "peis_no": "TJ0001", "patient_id": "P0001", "status": 0,
     "pdf_url": "https://peis.example/report/PE0001.pdf", "days_ago": 3,
     "items": [
         {"peis_item_id": "PI-G01", "category": "general", "peis_item_name": "一般检查",
          "item_name": "身高", "item_short_name": "HT", "item_value": "175", "item_unit": "cm",
          "item_tip": "-", "item_range": "-"},
         {"peis_item_id": "PI-L01", "category": "lis", "peis_item_name": "血脂四项",
          "item_name": "总胆固醇", "item_short_name": "TC", "item_value": "6.1",
          "item_unit": "mmol/L", "item_tip": "↑", "item_range": "2.8-5.7", "item_flag": 1},
         {"peis_item_id": "PI-P01", "category": "pacs", "peis_item_name": "腹部B超",
          "scan_method": "B超", "report_name": "肝胆胰脾", "report_no": "U0001",
          "report_image": "https://peis.example/img/PI-P01.jpg", "scan_view": "肝脏大小形态正常",
          "diagnosis": "未见明显异常", "write_user_name": "超声医师戊",
          "epic_url": "https://peis.example/film/PI-P01"},
     ]},
]

#: 核酸检测结果 (NAT results), by 身份证号.
NAT_RESULTS: list[Record] = [
    {"id_no": PATIENTS[0]["id_no"], "patient_name": "张三", "patient_age": "34",
     "phone_no": "13800000001", "sample": "咽拭子", "report_no": "N20240001",
     "item_name": "新型冠状病毒核酸检测", "item_short_name": "2019-nCoV", "item_value": "阴性",
     "item_range": "阴性", "days_ago": 2, "sample_user_name": "采样员甲",
     "check_user_name": "检测员乙", "doctor_code": "总院检验科",
     "origin_url": "https://nat.example/report/N20240001.pdf"},
]

OPERATING_ROOMS: list[Record] = [
    {"operat_room_id": "OR01", "operat_room_name": "第一手术室", "hospital_id": "01",
     "address": "住院楼5层"},
    {"operat_room_id": "OR02", "operat_room_name": "第二手术室", "hospital_id": "01",
     "address": "住院楼5层"},
    {"operat_room_id": "OR03", "operat_room_name": "东院手术室", "hospital_id": "02",
     "address": "东院3层"},
]

OPERATIONS: list[Record] = [
    {"operat_room_id": "OR01", "dept_id": "000002", "bed_number": "12", "patient": "李四",
     "appointment_time": "09:00:00", "status": "计划中"},
    {"operat_room_id": "OR02", "dept_id": "000002", "bed_number": "15", "patient": "赵六",
     "appointment_time": "10:30:00", "status": "手术进行中"},
]

#: 诊疗服务价格 (service price list), paged by /getElectronicPrescriptionDetail_1609234017475.
PRICES: list[Record] = [
    {"id": f"S{n:03d}", "name": name, "price": price} for n, (name, price) in enumerate([
        ("普通门诊诊查费", 10.0), ("专家门诊诊查费", 30.0), ("血常规", 20.0), ("尿常规", 15.0),
        ("肝功能", 60.0), ("肾功能", 45.0), ("胸部正位片", 80.0), ("腹部B超", 120.0),
        ("心电图", 25.0), ("CT平扫", 300.0), ("核酸检测", 35.0), ("静脉输液", 8.0)], start=1)]

#: 核酸检测报告语言 dictionary.
LANGUAGES = [{"id": "1", "name": "中文"}, {"id": "2", "name": "中英文"}, {"id": "3", "name": "英文"}]

#: Time slots of the 核酸检测 appointment flow (/type/list, /appointment/pre).
NAT_SLOTS = [("slot01", "09:00-09:30", 20), ("slot02", "09:30-10:00", 20),
             ("slot03", "14:00-14:30", 20)]
NAT_FEE = 35.0

#: The hospital's own operator that appears on records it creates itself.
OPERATOR = {"create_dept_id": "hpalm", "create_dept_name": "掌上医院", "create_user_id": "hpalm",
            "create_user_name": "掌上医院"}


# --- lookups -------------------------------------------------------------------------------

def by_key(records: list[Record], key: str) -> dict[str, Record]:
    return {r[key]: r for r in records}


def hospital(hid: str) -> Record | None:
    return next((h for h in HOSPITALS if h["hospital_id"] == hid), None)


def department(dept_id: str) -> Record | None:
    return next((d for d in DEPARTMENTS if d["dept_id"] == dept_id), None)


def doctor(doctor_id: str) -> Record | None:
    return next((d for d in DOCTORS if d["doctor_id"] == doctor_id), None)


def dept_record(dept: Record) -> Record:
    """A department with its hospital's fields merged in."""
    return {**(hospital(dept["hospital_id"]) or {}), **dept}


def doctor_record(doc: Record) -> Record:
    """A doctor with department, hospital and clinic fields merged in."""
    return {**dept_record(department(doc["dept_id"]) or {}), **CLINICS[doc["clinic_id"]], **doc}


# --- schedules -----------------------------------------------------------------------------

def schedule_id(doctor_id: str, day: dt.date, duration_id: str) -> str:
    return f"{doctor_id}-{day:%Y%m%d}-{duration_id}"


def schedules(today: dt.date) -> list[Record]:
    """Every schedule of every doctor, today .. today + DAYS_AHEAD, both 午别.

    A schedule carries its doctor's, department's, hospital's and clinic's fields and a list
    of ``slots`` (time_id, time_name, capacity, prebooked). Counts of live bookings are added by
    the simulator, which owns the state.
    """
    out = []
    for offset in range(DAYS_AHEAD + 1):
        day = today + dt.timedelta(days=offset)
        for doc in DOCTORS:
            for dur in DURATIONS.values():
                sid = schedule_id(doc["doctor_id"], day, dur["duration_id"])
                slots = []
                for n, (name, cap) in enumerate(dur["slots"], start=1):
                    slots.append({"time_id": f"{sid}-{n}", "time_name": name, "capacity": cap,
                                  "prebooked": PREBOOKED.get(n, 0)})
                out.append({**doctor_record(doc), "schedule_id": sid, "dt": day,
                            "week_day": WEEKDAYS[day.weekday()],
                            "duration_id": dur["duration_id"],
                            "duration_name": dur["duration_name"], "slots": slots,
                            "appt_max": sum(s["capacity"] for s in slots)})
    return out


def parse_schedule_id(sid: str) -> tuple[str, dt.date, str] | None:
    """(doctor_id, day, duration_id) of a well-formed SCHEDULE_ID, else None."""
    parts = sid.split("-")
    if len(parts) != 3 or doctor(parts[0]) is None or parts[2] not in DURATIONS:
        return None
    try:
        day = dt.datetime.strptime(parts[1], "%Y%m%d").date()
    except ValueError:
        return None
    return parts[0], day, parts[2]


def schedule(sid: str, today: dt.date) -> Record | None:
    """The schedule ``sid`` if it lies within today .. today + DAYS_AHEAD."""
    parsed = parse_schedule_id(sid)
    if parsed is None:
        return None
    _, day, _ = parsed
    if not 0 <= (day - today).days <= DAYS_AHEAD:
        return None
    return next((s for s in schedules(day) if s["schedule_id"] == sid), None)
