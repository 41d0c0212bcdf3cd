"""The LTI 1.3 test platform on its own, against a stand-in tool that only serves its keys."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from pylti1p3.course_groups import CourseGroupsService
from pylti1p3.registration import Registration
from pylti1p3.service_connector import ServiceConnector

from tests.service.lti_platform import (
    CONTEXT_GROUPS_READONLY,
    DEEP_LINKING_REQUEST,
    GROUPS_CLAIM,
    INSTRUCTOR,
    LEARNER,
    LINEITEM,
    MEMBERSHIPS_READONLY,
    SCORE,
    LtiPlatform,
    ThreadedServer,
    parse_form,
)

COURSE = "ee411"


@pytest.fixture(scope="module")
def course_datasets() -> None:
    """Overrides this folder's autouse fixture: making the service's datasets takes
    seconds, and a platform needs none."""


@dataclass
class Key:
    private_pem: str
    kid: str
    jwk: dict[str, Any]

    @classmethod
    def new(cls, kid: str) -> Key:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = private.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
        jwk = {**jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key(), as_dict=True),
               "kid": kid, "alg": "RS256", "use": "sig"}
        return cls(pem, kid, jwk)

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.private_pem, "RS256", headers={"kid": self.kid})


@pytest.fixture(scope="module")
def tool_key() -> Key:
    return Key.new("tool-key")


@pytest.fixture(scope="module")
def tool(tool_key: Key) -> Iterator[ThreadedServer]:
    """The tool's side, reduced to the key set the platform fetches."""
    app = FastAPI()
    app.add_api_route("/lti/jwks", lambda: {"keys": [tool_key.jwk]}, methods=["GET"])
    server = ThreadedServer(app).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lms(tool: ThreadedServer) -> Iterator[LtiPlatform]:
    with LtiPlatform(tool.url) as platform:
        platform.add_member(COURSE, "alice", name="Alice", email="alice@example.edu",
                            roles=[LEARNER])
        platform.add_member(COURSE, "prof", name="Prof", email="prof@example.edu",
                            roles=[INSTRUCTOR])
        yield platform


def authorize(lms: LtiPlatform, login_url: str, **overrides: str) -> httpx.Response:
    """The tool's answer to a login initiation: the browser sent to the platform's
    OIDC endpoint, as PyLTI1p3 sends it."""
    login = dict(parse_qsl(urlsplit(login_url).query))
    params = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post",
              "prompt": "none", "client_id": login["client_id"],
              "redirect_uri": f"{lms.tool_url}/lti/launch", "state": "state-1",
              "nonce": uuid.uuid4().hex, "login_hint": login["login_hint"],
              "lti_message_hint": login["lti_message_hint"], **overrides}
    return httpx.get(lms.auth_login_url, params=params)


def launch_claims(lms: LtiPlatform, response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    _, fields = parse_form(response.text)
    return verify(lms, fields["id_token"])


def verify(lms: LtiPlatform, id_token: str) -> dict[str, Any]:
    keys = jwt.PyJWKSet.from_dict(httpx.get(lms.key_set_url).json())
    kid = jwt.get_unverified_header(id_token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    return jwt.decode(id_token, key, algorithms=["RS256"], audience=lms.client_id)


def access_token(lms: LtiPlatform, key: Key, scope: str) -> httpx.Response:
    now = int(time.time())
    assertion = key.sign({"iss": lms.client_id, "sub": lms.client_id, "aud": lms.auth_token_url,
                          "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex})
    return httpx.post(lms.auth_token_url, data={
        "grant_type": "client_credentials", "scope": scope, "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})


def bearer(lms: LtiPlatform, key: Key, scope: str) -> dict[str, str]:
    response = access_token(lms, key, scope)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_login_url_is_a_third_party_initiated_login_at_the_tool(lms: LtiPlatform) -> None:
    url = lms.login_url("alice", COURSE, resource_link_id="hw3")
    assert url.startswith(f"{lms.tool_url}/lti/login?")
    params = dict(parse_qsl(urlsplit(url).query))
    assert params["iss"] == lms.issuer
    assert params["login_hint"] == "alice"
    assert params["target_link_uri"] == f"{lms.tool_url}/lti/launch"
    assert params["client_id"] == lms.client_id
    assert params["lti_deployment_id"] == lms.deployment_id
    assert params["lti_message_hint"]


def test_id_token_verifies_against_the_platform_jwks_and_carries_the_launch(
        lms: LtiPlatform) -> None:
    login = lms.login_url("alice", COURSE, resource_link_id="hw3", custom={"due": "friday"})
    response = authorize(lms, login, nonce="nonce-1")
    action, fields = parse_form(response.text)
    assert action == f"{lms.tool_url}/lti/launch"
    assert fields["state"] == "state-1"
    assert lms.last_launch_form == fields

    claims = verify(lms, fields["id_token"])
    lti = "https://purl.imsglobal.org/spec/lti/claim/"
    assert (claims["iss"], claims["sub"], claims["nonce"]) == (lms.issuer, "alice", "nonce-1")
    assert claims[lti + "message_type"] == "LtiResourceLinkRequest"
    assert claims[lti + "version"] == "1.3.0"
    assert claims[lti + "deployment_id"] == lms.deployment_id
    assert claims[lti + "roles"] == [LEARNER]
    assert claims[lti + "context"]["id"] == COURSE
    assert claims[lti + "resource_link"]["id"] == "hw3"
    assert claims[lti + "custom"] == {"due": "friday"}
    ags = claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"]
    assert ags["lineitems"] == lms.lineitems_url(COURSE)
    assert SCORE in ags["scope"]
    nrps = claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"]
    assert nrps["context_memberships_url"] == lms.memberships_url(COURSE)
    assert claims[GROUPS_CLAIM] == {
        "context_groups_url": f"{lms.issuer}/contexts/{COURSE}/groups",
        "context_group_sets_url": f"{lms.issuer}/contexts/{COURSE}/group_sets",
        "scope": [CONTEXT_GROUPS_READONLY], "service_versions": ["1.0"]}


def test_authorize_refuses_a_redirect_uri_that_is_not_the_tools(lms: LtiPlatform) -> None:
    login = lms.login_url("alice", COURSE)
    response = authorize(lms, login, redirect_uri="https://evil.example/lti/launch")
    assert response.status_code == 400
    assert "redirect_uri" in response.json()["error"]


def test_authorize_refuses_a_login_hint_for_another_user(lms: LtiPlatform) -> None:
    response = authorize(lms, lms.login_url("alice", COURSE), login_hint="prof")
    assert response.status_code == 400


def test_expired_forgery_is_refused_by_pyjwt_as_expired(lms: LtiPlatform) -> None:
    lms.tamper_next("expired")
    response = authorize(lms, lms.login_url("alice", COURSE))
    _, fields = parse_form(response.text)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(lms, fields["id_token"])
    # one token only: the next launch is sound again
    assert launch_claims(lms, authorize(lms, lms.login_url("alice", COURSE)))["sub"] == "alice"


def test_signature_forgery_names_the_real_kid_but_fails_verification(lms: LtiPlatform) -> None:
    lms.tamper_next("signature")
    _, fields = parse_form(authorize(lms, lms.login_url("alice", COURSE)).text)
    real_kid = httpx.get(lms.key_set_url).json()["keys"][0]["kid"]
    assert jwt.get_unverified_header(fields["id_token"])["kid"] == real_kid
    with pytest.raises(jwt.InvalidSignatureError):
        verify(lms, fields["id_token"])


def test_token_refuses_an_assertion_signed_by_an_unknown_key(lms: LtiPlatform) -> None:
    response = access_token(lms, Key.new("tool-key"), SCORE)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_members_score_is_taken_and_a_non_members_refused(lms: LtiPlatform,
                                                             tool_key: Key) -> None:
    headers = bearer(lms, tool_key, f"{LINEITEM} {SCORE}")
    created = httpx.post(lms.lineitems_url(COURSE), headers={
        **headers, "Content-Type": "application/vnd.ims.lis.v2.lineitem+json"},
        json={"label": "HW3", "scoreMaximum": 10, "resourceId": "ee411-hw3"})
    assert created.status_code == 201, created.text
    scores_url = created.json()["id"] + "/scores"
    score = {"scoreGiven": 7, "scoreMaximum": 10, "activityProgress": "Completed",
             "gradingProgress": "FullyGraded", "timestamp": "2026-01-01T00:00:00+00:00"}
    content_type = {"Content-Type": "application/vnd.ims.lis.v1.score+json"}

    taken = httpx.post(scores_url, headers={**headers, **content_type},
                       json={**score, "userId": "alice"})
    refused = httpx.post(scores_url, headers={**headers, **content_type},
                         json={**score, "userId": "mallory"})

    assert taken.status_code == 201, taken.text
    assert refused.status_code == 422
    assert "not a member" in refused.json()["error"]
    assert [s["userId"] for s in lms.scores(created.json()["id"])] == ["alice"]
    assert lms.results(COURSE)["ee411-hw3"]["alice"]["scoreGiven"] == 7


def test_ags_refuses_a_token_without_the_operations_scope(lms: LtiPlatform,
                                                          tool_key: Key) -> None:
    headers = bearer(lms, tool_key, MEMBERSHIPS_READONLY)
    response = httpx.post(lms.lineitems_url(COURSE), headers=headers,
                          json={"label": "HW4", "scoreMaximum": 10})
    assert response.status_code == 401


def test_memberships_list_the_roster(lms: LtiPlatform, tool_key: Key) -> None:
    headers = bearer(lms, tool_key, MEMBERSHIPS_READONLY)
    response = httpx.get(lms.memberships_url(COURSE), headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        "application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
    body = response.json()
    assert body["context"]["id"] == COURSE
    assert {m["user_id"]: m["roles"] for m in body["members"]} == {
        "alice": [LEARNER], "prof": [INSTRUCTOR]}


def test_deep_linking_response_is_taken_only_when_the_tool_signed_it(
        lms: LtiPlatform, tool_key: Key) -> None:
    claims = launch_claims(lms, authorize(lms, lms.login_url(
        "prof", COURSE, message_type=DEEP_LINKING_REQUEST)))
    settings = claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"]
    now = int(time.time())
    response = {
        "iss": lms.client_id, "aud": [lms.issuer], "iat": now, "exp": now + 60,
        "nonce": uuid.uuid4().hex,
        "https://purl.imsglobal.org/spec/lti/claim/deployment_id": lms.deployment_id,
        "https://purl.imsglobal.org/spec/lti/claim/message_type": "LtiDeepLinkingResponse",
        "https://purl.imsglobal.org/spec/lti/claim/version": "1.3.0",
        "https://purl.imsglobal.org/spec/lti-dl/claim/data": settings["data"],
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items": [{
            "type": "ltiResourceLink", "title": "HW5", "url": f"{lms.tool_url}/lti/launch",
            "lineItem": {"label": "HW5", "scoreMaximum": 5, "resourceId": "ee411-hw5"}}],
    }

    forged = httpx.post(settings["deep_link_return_url"],
                        data={"JWT": Key.new("tool-key").sign(response)})
    taken = httpx.post(settings["deep_link_return_url"], data={"JWT": tool_key.sign(response)})

    assert forged.status_code == 401
    assert taken.status_code == 200, taken.text
    assert [item["title"] for item in lms.deep_link_items] == ["HW5"]
    assert "ee411-hw5" in lms.results(COURSE)


class KeyedRegistration(Registration):
    """The tool's registration as PyLTI1p3 keeps it, its assertions naming the tool key's
    kid (PyLTI1p3 would derive one from a public key it is given)."""

    def __init__(self, kid: str) -> None:
        super().__init__()
        self._kid = kid

    def get_kid(self) -> str:
        return self._kid


def grouped_course(lms: LtiPlatform, context_id: str) -> None:
    """A course of its own (the module's platform is shared): two teams in a set, and one
    study group outside any set; carol in none."""
    for user_id in ("alice", "bob", "carol"):
        lms.add_member(context_id, user_id, name=user_id.title(),
                       email=f"{user_id}@example.edu", roles=[LEARNER])
    lms.add_group_set(context_id, "projects", name="Project teams")
    lms.add_group(context_id, "team-1", name="Team 1", members=["alice", "bob"],
                  set_id="projects")
    lms.add_group(context_id, "team-2", name="Team 2", members=[], set_id="projects")
    lms.add_group(context_id, "study", name="Study group", members=["alice"])


def test_groups_are_served_to_pylti1p3_with_the_groups_scope_only(
        lms: LtiPlatform, tool_key: Key) -> None:
    grouped_course(lms, "cs101")
    with pytest.raises(ValueError, match="mallory"):
        lms.add_group("cs101", "team-3", name="Team 3", members=["alice", "mallory"])
    registration = KeyedRegistration(tool_key.kid).set_client_id(lms.client_id)
    registration.set_auth_token_url(lms.auth_token_url).set_tool_private_key(
        tool_key.private_pem)
    service = CourseGroupsService(ServiceConnector(registration), {
        "context_groups_url": lms.groups_url("cs101"),
        "context_group_sets_url": lms.group_sets_url("cs101"),
        "scope": [CONTEXT_GROUPS_READONLY], "service_versions": ["1.0"]})

    assert service.get_groups() == [
        {"id": "team-1", "name": "Team 1", "set_id": "projects"},
        {"id": "team-2", "name": "Team 2", "set_id": "projects"},
        {"id": "study", "name": "Study group"}]
    assert [g["id"] for g in service.get_groups(user_id="alice")] == ["team-1", "study"]
    assert service.get_groups(user_id="carol") == []
    assert service.get_sets(include_groups=True) == [
        {"id": "projects", "name": "Project teams", "groups": [
            {"id": "team-1", "name": "Team 1", "set_id": "projects"},
            {"id": "team-2", "name": "Team 2", "set_id": "projects"}]}]

    groups = httpx.get(lms.groups_url("cs101"),
                       headers=bearer(lms, tool_key, CONTEXT_GROUPS_READONLY))
    sets = httpx.get(lms.group_sets_url("cs101"),
                     headers=bearer(lms, tool_key, CONTEXT_GROUPS_READONLY))
    refused = httpx.get(lms.groups_url("cs101"),
                        headers=bearer(lms, tool_key, MEMBERSHIPS_READONLY))
    assert groups.headers["content-type"].startswith(
        "application/vnd.ims.lti-gs.v1.contextgroupcontainer+json")
    assert sets.headers["content-type"].startswith(
        "application/vnd.ims.lti-gs.v1.contextgroupsetcontainer+json")
    assert refused.status_code == 401
    assert httpx.get(lms.group_sets_url("cs101")).status_code == 401


def test_memberships_give_each_members_group_enrollments(lms: LtiPlatform,
                                                          tool_key: Key) -> None:
    grouped_course(lms, "cs102")
    response = httpx.get(lms.memberships_url("cs102"),
                         headers=bearer(lms, tool_key, MEMBERSHIPS_READONLY))
    assert response.status_code == 200, response.text
    members = {m["user_id"]: m for m in response.json()["members"]}
    assert members["alice"]["group_enrollments"] == [{"group_id": "team-1"},
                                                     {"group_id": "study"}]
    assert members["bob"]["group_enrollments"] == [{"group_id": "team-1"}]
    assert "group_enrollments" not in members["carol"]
