"""case: acronym-aware splitting, the seed 002 field names in every vendor style, keep/paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.message import Message
from bridge.registry import STEPS, BuildContext, load_builtin_steps
from bridge.steps.case import convert, words

load_builtin_steps()
CTX = BuildContext(base_dir=Path("."))


def run(config: Any, body: Any) -> Any:
    spec = STEPS["case"]
    return spec.compile(config, CTX)(Message(body)).body


def key(config: Any, name: str) -> str:
    out = run(config, {name: 1})
    assert len(out) == 1
    return next(iter(out))


# Seed 002 (exam booking platform): camelCase as documented -> snake_case.
# Vendors use the same names as PascalCase ("首字母大写的驼峰") and ALL CAPS ("全部大写").
SEED_002 = [
    ("startDate", "start_date"), ("days", "days"), ("placerOrderNO", "placer_order_no"),
    ("organizationID", "organization_id"), ("serviceSectID", "service_sect_id"),
    ("serviceID", "service_id"), ("serviceText", "service_text"),
    ("procedureID", "procedure_id"), ("procedureName", "procedure_name"),
    ("patientClass", "patient_class"), ("requestDeptID", "request_dept_id"),
    ("requestDeptName", "request_dept_name"), ("requestedDate", "requested_date"),
    ("fastingFlag", "fasting_flag"), ("medRecNO", "med_rec_no"),
    ("scheduleRoute", "schedule_route"), ("resultCode", "result_code"),
    ("resultDesc", "result_desc"), ("result", "result"),
    ("placerAssigningAuthority", "placer_assigning_authority"),
    ("resourceUID", "resource_uid"), ("arrangeUID", "arrange_uid"),
    ("timeDetailUID", "time_detail_uid"), ("resourceName", "resource_name"),
    ("scheduleDate", "schedule_date"), ("scheduleTime", "schedule_time"),
    ("quantity", "quantity"), ("scheduleFlag", "schedule_flag"),
    ("scheduleArrangeResourceInfoList", "schedule_arrange_resource_info_list"),
    ("scheduleArrangeDateInfoList", "schedule_arrange_date_info_list"),
    ("arrangeWeek", "arrange_week"), ("arrangeDay", "arrange_day"),
    ("appointmentQuantity", "appointment_quantity"),
    ("scheduleArrangeTimeInfoList", "schedule_arrange_time_info_list"),
    ("startTime", "start_time"), ("endTime", "end_time"), ("doctorName", "doctor_name"),
    ("titleMsg", "title_msg"), ("scheduleTimeStatus", "schedule_time_status"),
    ("scheduleOperatorID", "schedule_operator_id"),
    ("scheduleOperatorName", "schedule_operator_name"),
    ("scheduleResourceUID", "schedule_resource_uid"),
    ("scheduleResourceName", "schedule_resource_name"), ("providerID", "provider_id"),
    ("providerName", "provider_name"), ("providerPhone", "provider_phone"), ("name", "name"),
    ("sex", "sex"), ("age", "age"), ("ageUnit", "age_unit"), ("birthDate", "birth_date"),
    ("contactPhoneNO", "contact_phone_no"), ("idCardNO", "id_card_no"), ("cardNO", "card_no"),
    ("outPatientNO", "out_patient_no"), ("clinicDiagnosis", "clinic_diagnosis"),
    ("medicalRecord", "medical_record"), ("symptom", "symptom"), ("reason", "reason"),
    ("attention", "attention"), ("requestMemo", "request_memo"),
    ("scheduleSeq", "schedule_seq"), ("scheduleID", "schedule_id"),
    ("scheduleResourceLocation", "schedule_resource_location"),
    ("scheduleResourceRoom", "schedule_resource_room"),
    ("scheduleStartDate", "schedule_start_date"), ("scheduleEndDate", "schedule_end_date"),
    ("scheduleNotice", "schedule_notice"), ("scheduleTimeDetail", "schedule_time_detail"),
    ("fillerOrderNO", "filler_order_no"), ("fillerPatientID", "filler_patient_id"),
    ("accessionNumber", "accession_number"), ("observationUID", "observation_uid"),
    ("scheduleStatus", "schedule_status"), ("submitExamRequestInfo", "submit_exam_request_info"),
    # the common envelope
    ("systemId", "system_id"), ("systemKey", "system_key"), ("businessType", "business_type"),
    ("method", "method"), ("statusCode", "status_code"), ("statusMessage", "status_message"),
    ("totalRecord", "total_record"), ("totalPage", "total_page"),
]
# Names whose camelCase has an acronym: the way back is declared, as a route would.
ACRONYMS = {snake: camel for camel, snake in SEED_002
            if any(a in camel for a in ("ID", "NO", "UID"))}


def pascal(camel: str) -> str:
    return camel[0].upper() + camel[1:]


@pytest.mark.parametrize(("camel", "snake"), SEED_002, ids=[c for c, _ in SEED_002])
def test_seed_002_all_styles(camel: str, snake: str) -> None:
    all_caps = camel.upper()  # 金塘封装 (妇儿): "全部大写", no separators
    # to snake from the documented camelCase and from the PascalCase vendors
    assert key("snake", camel) == snake
    assert key("snake", pascal(camel)) == snake
    # back: acronyms need the declared exceptions, everything else converts on its own
    assert key({"to": "camel", "exceptions": ACRONYMS}, snake) == camel
    assert key({"to": "pascal", "exceptions": {s: pascal(c) for s, c in ACRONYMS.items()}},
               snake) == pascal(camel)
    naive = key("camel", snake)
    assert (naive == camel) == (snake not in ACRONYMS)
    # ALL CAPS without separators: writing needs nothing, reading needs the dictionary
    assert key("upper_flat", snake) == all_caps
    assert key({"to": "snake", "exceptions": {all_caps: snake}}, all_caps) == snake
    # UPPER_SNAKE
    assert key("upper", snake) == snake.upper()
    assert key("upper", camel) == snake.upper()


def test_sample_spelling_variants_meet_in_snake_case() -> None:
    # seed 002's own request sample spells the table's idCardNO as idCardNo
    assert key("snake", "idCardNo") == key("snake", "idCardNO") == "id_card_no"


@pytest.mark.parametrize(("source", "snake"), [
    ("IDCode", "id_code"), ("organizationID", "organization_id"), ("medRecNO", "med_rec_no"),
    ("HospitalNo", "hospital_no"), ("APPT_ID", "appt_id"),
    ("XMLHttpRequest", "xml_http_request"), ("phoneNum", "phone_num"), ("addr2", "addr2"),
    ("addr2Line", "addr2_line"), ("sha256Sign", "sha256_sign"), ("2ndAddr", "2nd_addr"),
    ("already_snake", "already_snake"), ("kebab-case-key", "kebab_case_key"),
    ("Visit Type", "visit_type"), ("@PatientID", "@patient_id"), ("#text", "#text"),
    ("_id", "_id"), ("患者姓名", "患者姓名"), ("", ""),
])
def test_words_split_to_snake(source: str, snake: str) -> None:
    assert convert(source, "snake") == snake


@pytest.mark.parametrize(("snake", "style", "out"), [
    ("organization_id", "camel", "organizationId"), ("organization_id", "pascal",
                                                     "OrganizationId"),
    ("organization_id", "upper", "ORGANIZATION_ID"), ("organization_id", "kebab",
                                                     "organization-id"),
    ("organization_id", "upper_flat", "ORGANIZATIONID"), ("addr2_line", "camel", "addr2Line"),
    ("@type_code", "camel", "@typeCode"), ("#text", "pascal", "#text"),
])
def test_join_styles(snake: str, style: str, out: str) -> None:
    assert convert(snake, style) == out


def test_words() -> None:
    assert words("scheduleArrangeTimeInfoList") == ["schedule", "arrange", "time", "info", "list"]


def test_exceptions_match_source_key_or_its_snake_form() -> None:
    cfg = {"to": "camel", "exceptions": {"med_rec_no": "medRecNO", "IDCODE": "idCode"}}
    body = run(cfg, {"MedRecNo": 1, "med_rec_no": 2, "IDCODE": 3})
    assert list(body) == ["medRecNO", "idCode"]  # the first two collide on purpose
    assert body == {"medRecNO": 2, "idCode": 3}


def test_whole_tree_through_lists_keeps_order_and_values() -> None:
    body = {"resultCode": "Success", "result": {"scheduleArrangeResourceInfoList": [
        {"resourceUID": "18", "scheduleArrangeDateInfoList": [{"arrangeUID": "18-20240816"}]},
        {"resourceUID": "19", "scheduleArrangeDateInfoList": []}]}}
    assert run("snake", body) == {"result_code": "Success", "result": {
        "schedule_arrange_resource_info_list": [
            {"resource_uid": "18", "schedule_arrange_date_info_list": [
                {"arrange_uid": "18-20240816"}]},
            {"resource_uid": "19", "schedule_arrange_date_info_list": []}]}}
    assert list(run("snake", {"b": 1, "A": 2, "c": 3})) == ["b", "a", "c"]


def test_keep_converts_the_key_but_not_its_contents() -> None:
    body = {"patientInfo": {"extraData": {"rawKey": 1}, "nameCN": "x"},
            "items": [{"freeForm": {"keepThis": 1}}, {"freeForm": {"andThis": 2}}]}
    out = run({"to": "snake", "keep": ["patientInfo.extraData", "items.freeForm"]}, body)
    assert out == {"patient_info": {"extra_data": {"rawKey": 1}, "name_cn": "x"},
                   "items": [{"free_form": {"keepThis": 1}}, {"free_form": {"andThis": 2}}]}


def test_keep_may_name_the_key_after_conversion() -> None:
    out = run({"to": "camel", "keep": ["extra_data"]}, {"extra_data": {"a_b": 1}})
    assert out == {"extraData": {"a_b": 1}}


def test_paths_limit_conversion_to_subtrees() -> None:
    body = {"headerInfo": {"systemId": "S"}, "data": [{"medRecNO": "1", "subItem": {"xY": 1}}]}
    out = run({"to": "snake", "paths": "data", "keep": ["data.subItem"]}, body)
    assert out == {"headerInfo": {"systemId": "S"},
                   "data": [{"med_rec_no": "1", "sub_item": {"xY": 1}}]}


def test_scalars_and_non_dict_bodies_pass() -> None:
    assert run("snake", "plain string") == "plain string"
    assert run("snake", [{"aB": 1}, 2]) == [{"a_b": 1}, 2]


def test_memo_is_per_step_instance() -> None:
    spec = STEPS["case"]
    a = spec.compile("snake", CTX)
    b = spec.compile({"to": "snake", "exceptions": {"medRecNO": "mrn"}}, CTX)
    assert a(Message({"medRecNO": 1})).body == {"med_rec_no": 1}
    assert b(Message({"medRecNO": 1})).body == {"mrn": 1}
    assert a(Message({"medRecNO": 1})).body == {"med_rec_no": 1}


@pytest.mark.parametrize("config", ["shouting", {"to": "snake", "extra": 1},
                                    {"exceptions": {}}, {"to": "snake", "keep": ["a..b"]}, 3])
def test_invalid_config(config: Any) -> None:
    with pytest.raises(ValidationError):
        STEPS["case"].model.model_validate(config)
