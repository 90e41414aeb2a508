"""starrec serve as a user meets it: a real process on a free port, a real HTTP client, a real
headless browser on its page (issue #11, items 2-4)."""

import base64
import contextlib
import hashlib
import io
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from importlib.resources import files

import httpx
import numpy as np
import pytest
from PIL import Image

import starrec
from helpers.data import fit_arrays, make_tiny_arrays, make_tiny_params, replace, save_image
from serving import abuse, lean_venv, start_service
from starrec.model_info import ModelInfo
from starrec.params import FacesParams
from starrec.ship.export import export_model
from starrec.train.model_file import load_model, save_model

pytestmark = pytest.mark.slow  # real processes, services or conversions: make test, not make test-fast

CLASSES = ["red", "green", "blue"]
LIMIT_MB = 0.25
LIMIT = ("--max-upload-mb", str(LIMIT_MB))
ASTRONAUT = files("skimage") / "data" / "astronaut.png"
MEMORY_GROWTH_MB = 400
"""What a bounded abuse may leave the service holding (docs/shipping.md: Security; bench/results.json service.abuse)."""


def stop(process):
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny model of the three stripe classes as .keras and as exports, and its images."""
    images, labels = make_tiny_arrays()
    params = replace(make_tiny_params(), "train", epochs=20, learning_rate=0.05, precision="float32")
    model, _ = fit_arrays(params, images, labels)  # float32: the exports compute as it does
    folder = tmp_path_factory.mktemp("served")
    save_model(model, ModelInfo(CLASSES, FacesParams()), folder / "model.keras")
    export_model(model, ModelInfo(CLASSES, FacesParams()), folder / "export", images)
    photos = [save_image(folder / f"photo-{i}.png", images[i]) for i in range(len(images))]
    expected = model(images.astype(np.float32)).numpy()
    return folder, photos, expected


@pytest.fixture(scope="module")
def service(trained):
    folder, _, _ = trained
    process, url = start_service(folder / "model.keras", folder / "serve.log", *LIMIT)
    yield url
    stop(process)


def upload(url, name, content, field="photo"):
    return httpx.post(f"{url}/predict", files={field: (name, content, "image/png")}, timeout=60)


def test_health_and_an_upload_get_the_models_own_answer(trained, service):
    _, photos, expected = trained
    health = httpx.get(f"{service}/health").json()
    assert health["status"] == "ok" and health["classes"] == CLASSES and health["image_size"] == 16
    assert health["saliency_unavailable"] is None
    model = trained[0] / "model.keras"
    assert health["model"] == "model.keras" and str(model.parent) not in httpx.get(service).text  # no server paths
    assert health["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    response = upload(service, "photo-20.png", photos[20].read_bytes())
    assert response.status_code == 200
    (face,) = response.json()["faces"]
    assert face["sure"] is True  # the model's min_confidence is 0 here (tests/test_predict.py: not sure)
    assert [p["class"] for p in face["predictions"]] == [CLASSES[i] for i in np.argsort(expected[20])[::-1]]
    assert [p["probability"] for p in face["predictions"]] == pytest.approx(sorted(expected[20])[::-1], abs=1e-5)
    for key in ("image", "saliency"):
        header, data = face[key].split(",", 1)
        assert header == "data:image/png;base64"
        assert Image.open(io.BytesIO(base64.b64decode(data))).size == (16, 16)


def test_every_bad_upload_is_a_4xx_with_its_reason(tmp_path, service):
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, format="PNG")  # 100 megapixels in about 12 KB
    assert len(bomb.getvalue()) < 100_000
    cases = {
        "not an image": (upload(service, "notes.png", b"just some text, no pixels"), 422),
        "empty file": (upload(service, "empty.png", b""), 400),
        "larger than the limit": (upload(service, "big.png", os.urandom(int(LIMIT_MB * 2**20) + 1)), 413),
        "too large": (upload(service, "bomb.png", bomb.getvalue()), 422),
        "multipart form field 'photo'": (upload(service, "x.png", b"x", field="image"), 400),
    }
    chunked = httpx.post(
        f"{service}/predict", content=iter([b"--x\r\n"]), headers={"content-type": "multipart/form-data; boundary=x"}
    )
    cases["Content-Length"] = (chunked, 411)
    cases["Not Found"] = (httpx.get(f"{service}/nowhere"), 404)
    for reason, (response, status) in cases.items():
        assert response.status_code == status, (reason, response.text)
        assert response.headers["content-type"] == "application/problem+json"  # RFC 9457
        problem = response.json()
        assert reason in problem["detail"] and problem["status"] == status
        assert problem["title"] == HTTPStatus(status).phrase and problem["type"] == "about:blank"
    dds = io.BytesIO()  # a format outside the decoder's allowlist (a damaged one made Pillow raise: a plain 500)
    Image.new("RGB", (8, 8)).save(dds, format="DDS")
    refused = upload(service, "photo.dds", dds.getvalue())
    assert refused.status_code == 422 and refused.json()["detail"].endswith("not an image"), refused.text
    assert httpx.get(f"{service}/health").status_code == 200


def test_concurrent_requests_each_get_their_own_answer(trained, service):
    _, photos, expected = trained
    chosen = [photos[i % len(photos)] for i in range(32)]
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda photo: upload(service, photo.name, photo.read_bytes()), chosen))
    assert [response.status_code for response in responses] == [200] * 32
    for photo, response in zip(chosen, responses, strict=True):
        index = int(photo.stem.split("-")[1])
        assert response.json()["faces"][0]["predictions"][0]["class"] == CLASSES[int(expected[index].argmax())]


def test_the_page_shows_the_top_class_and_where_the_model_looked(trained, service, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _, photos, expected = trained
    browser.get(service)
    assert "Who is in the photo?" in browser.page_source
    assert "http" not in "".join(browser.execute_script("return [...document.scripts].map(s => s.src)"))
    browser.find_element(By.ID, "photo").send_keys(str(photos[3]))
    top = WebDriverWait(browser, 30).until(lambda driver: driver.find_elements(By.ID, "top-class"))[0]
    assert top.text == CLASSES[int(expected[3].argmax())]
    images = browser.execute_script("return [...document.images].map(i => [i.alt, i.complete && i.naturalWidth])")
    assert images == [["what the model saw", 16], ["saliency map", 16]]
    assert browser.find_element(By.ID, "error").text == ""
    shot = tmp_path / "page.png"
    assert browser.save_screenshot(str(shot)) and Image.open(shot).size[0] >= 800
    browser.find_element(By.ID, "photo").send_keys(str(ASTRONAUT))  # 0.79 MB: over this service's limit
    error = WebDriverWait(browser, 30).until(lambda driver: driver.find_element(By.ID, "error").text)
    assert "larger than the limit of 262144 bytes" in error and not browser.find_elements(By.ID, "top-class")


def test_a_face_model_crops_the_face_and_refuses_a_photo_without_one(trained, tmp_path):
    folder, _, _ = trained
    faces = tmp_path / "faces"
    save_model(load_model(folder / "model.keras"), ModelInfo(CLASSES, FacesParams(detect=True)), faces / "model.keras")
    process, url = start_service(faces / "model.keras", tmp_path / "serve.log", *LIMIT)
    try:
        wall = save_image(tmp_path / "wall.png", np.full((64, 64, 3), 128, np.uint8))
        refused = upload(url, "wall.png", wall.read_bytes())
        assert refused.status_code == 422 and refused.json()["detail"] == "wall.png: no face found"
        photo = io.BytesIO()
        Image.open(ASTRONAUT).save(photo, format="JPEG", quality=90)  # under the 0.25 MB limit
        found = upload(url, "astronaut.jpg", photo.getvalue())
        assert found.status_code == 200 and len(found.json()["faces"]) == 1
    finally:
        stop(process)


MODULES_OF_TRAINING = ("tensorflow", "keras", "matplotlib", "pandas", "sklearn", "scipy", "dvc")
TRAINING_STACK = ("tensorflow", "tensorflow-cpu", "keras", "matplotlib", "pandas", "scikit-learn", "scipy", "dvc")


def test_an_export_serves_the_same_answers_without_saliency_or_tensorflow(trained, tmp_path):
    folder, photos, expected = trained
    log = tmp_path / "serve.log"  # python -X importtime: every module the service imported, one per line
    importtime = (sys.executable, "-X", "importtime")
    process, url = start_service(folder / "export" / "model.onnx", log, *LIMIT, python=importtime)
    try:
        (face,) = upload(url, photos[5].name, photos[5].read_bytes()).json()["faces"]
        assert face["predictions"][0]["probability"] == pytest.approx(float(expected[5].max()), abs=1e-4)
        assert face["saliency"] is None
        assert "model.onnx is an export" in httpx.get(f"{url}/health").json()["saliency_unavailable"]
    finally:
        stop(process)
    imported = {line.split("|")[-1].strip().split(".")[0] for line in log.read_text().splitlines() if "|" in line}
    assert {"onnxruntime", "fastapi", "starrec"} <= imported and not imported & set(MODULES_OF_TRAINING)


def test_the_openapi_schema_types_answers_and_documents_every_refusal(service):
    schema = httpx.get(f"{service}/openapi.json").json()
    assert schema["info"]["version"] == starrec.__version__ and "photo" in schema["info"]["description"]
    operations = [operation for path in schema["paths"].values() for operation in path.values()]
    assert sorted(operation["operationId"] for operation in operations) == ["health", "page", "predict"]
    predict = schema["paths"]["/predict"]["post"]
    upload_schema = predict["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload_schema["required"] == ["photo"] and upload_schema["properties"]["photo"]["format"] == "binary"
    responses = predict["responses"]
    assert responses["200"]["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Prediction"
    assert sorted(responses) == ["200", "400", "408", "411", "413", "422", "503"]
    for status in ("400", "408", "411", "413", "422"):
        assert list(responses[status]["content"]) == ["application/problem+json"], status
    assert list(responses["503"]["content"]) == ["text/plain"]  # uvicorn's and the per-client limit's answer
    schemas = schema["components"]["schemas"]
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail"]
    assert set(schemas["ClassProbability"]["properties"]) == {"class", "probability"}
    health = schema["paths"]["/health"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert health["$ref"] == "#/components/schemas/Health"
    assert set(schemas["Health"]["required"]) == {
        "status", "model", "sha256", "classes", "image_size", "saliency_unavailable"
    }  # fmt: skip


WHEEL_METADATA = """
from importlib.metadata import distribution
starrec = distribution("starrec")
print(starrec.read_text("METADATA").split("\\n\\n")[0])
print("\\n".join(file.name for file in starrec.files if file.name == "py.typed"))
"""


def test_the_wheel_with_the_serve_extra_serves_onnx_from_an_empty_venv(trained, tmp_path):
    """The lean install (:func:`serving.lean_venv`): the wheel and requirements/serve.txt, no TensorFlow."""
    folder, photos, expected = trained
    python = lean_venv(tmp_path / "venv")
    installed = subprocess.run(
        [python, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout.lower()
    assert "starrec==" in installed and not any(f"\n{name}==" in f"\n{installed}" for name in TRAINING_STACK)
    version = subprocess.run([python.parent / "starrec", "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"starrec {starrec.__version__}"
    metadata = subprocess.run(
        [python, "-c", WHEEL_METADATA], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert {"License-Expression: MIT", "License-File: LICENSE", "Classifier: Typing :: Typed"} <= set(metadata)
    assert "Author: the starrec maintainers" in metadata and "py.typed" in metadata  # typed for mypy users
    for command in (
        ["serve", "--model", str(folder / "model.keras")],
        ["predict", "--model", str(folder / "model.keras"), str(photos[0])],
        ["report"],
    ):
        refused = subprocess.run([python.parent / "starrec", *command], capture_output=True, text=True, cwd=tmp_path)
        assert refused.returncode == 1 and refused.stdout == "", refused.stderr
        (line,) = refused.stderr.splitlines()  # one line, no traceback: what this install serves, and the fix
        assert "leaves out" in line and "model.onnx" in line and "starrec[pipeline,cpu]" in line
    log = tmp_path / "serve.log"
    process, url = start_service(folder / "export" / "model.onnx", log, python=(python,))
    try:
        (face,) = upload(url, photos[5].name, photos[5].read_bytes()).json()["faces"]
        assert face["predictions"][0]["probability"] == pytest.approx(float(expected[5].max()), abs=1e-4)
    finally:
        stop(process)


STRICT = (*LIMIT, "--body-timeout", "1", "--header-timeout", "1", "--limit-concurrency", "6")


@pytest.fixture(scope="module")
def strict(trained, tmp_path_factory):
    """A service with one-second body and header timeouts and at most 6 connections; (url, log)."""
    folder, _, _ = trained
    log = tmp_path_factory.mktemp("strict") / "serve.log"
    process, url = start_service(folder / "model.keras", log, *STRICT)
    yield url, log
    stop(process)


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def read_answer(connection: socket.socket) -> bytes:
    """What the server sends until it closes the connection (or 10 s pass)."""
    answer = b""
    with contextlib.suppress(OSError):
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_a_chunked_body_is_counted_as_it_arrives_whatever_content_length_says(strict):
    url, _ = strict
    connection = connect(url)
    head = (
        "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n\r\n"
    )
    part = b'--x\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\n\r\n'
    connection.sendall(head.encode() + b"%x\r\n%s\r\n" % (len(part), part))
    chunk, sent = b"%x\r\n%s\r\n" % (65536, b"a" * 65536), 0  # a photo that never ends
    with contextlib.suppress(OSError):
        while sent < 64 * 2**20:  # 64 MiB unless the service stops reading first
            connection.sendall(chunk)
            sent += len(chunk)
    answer = read_answer(connection)
    assert status_of(answer) == 413 and b"larger than the limit" in answer
    assert sent < 16 * 2**20  # stopped near the 0.25 MiB limit (plus what the sockets buffer)


def test_a_stalled_body_gets_408_and_slow_headers_are_cut_off(strict):
    url, _ = strict
    connection = connect(url)
    head = "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n"
    connection.sendall(f"{head}Content-Type: multipart/form-data; boundary=x\r\n\r\n--x\r\n".encode())
    started = time.monotonic()
    answer = read_answer(connection)  # the other 4,995 bytes never come
    assert status_of(answer) == 408 and b"stalled" in answer and time.monotonic() - started < 5
    slow = connect(url)
    slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and the end of the headers never comes
    started = time.monotonic()
    assert read_answer(slow) == b"" and time.monotonic() - started < 5  # closed, not held


def test_connections_beyond_the_limit_get_503_and_a_foreign_host_400(strict):
    url, _ = strict
    idle = [connect(url) for _ in range(6)]  # six open connections: the limit
    time.sleep(0.2)
    try:
        extra = connect(url)
        extra.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert status_of(read_answer(extra)) == 503
    finally:
        for connection in idle:
            connection.close()
    time.sleep(0.2)
    assert httpx.get(f"{url}/health").status_code == 200
    rebound = httpx.get(f"{url}/health", headers={"Host": "attacker.example"})
    assert rebound.status_code == 400


def test_a_client_leaving_mid_upload_leaves_no_traceback(strict):
    url, log = strict
    connection = connect(url)
    head = "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n"
    connection.sendall(f"{head}Content-Type: multipart/form-data; boundary=x\r\n\r\n--x\r\n".encode())
    connection.close()
    time.sleep(0.5)
    assert httpx.get(f"{url}/health").status_code == 200
    assert "Traceback" not in log.read_text()


def test_a_photo_over_the_services_pixel_budget_is_refused_from_its_header(service):
    big = io.BytesIO()
    Image.new("1", (5000, 5000)).save(big, format="PNG")  # 25 megapixels in a few KB
    response = upload(service, "big.png", big.getvalue())
    assert response.status_code == 422
    assert response.json()["detail"] == "big.png: too large: 5000x5000 pixels (limit 24000000)"


def test_a_bounded_abuse_leaves_the_service_answering_within_its_memory(trained, tmp_path):
    """With the default flags: stalled bodies (408), slow-loris headers (closed), chunked floods (413 near the
    limit), decode bombs (422) and large photos in the budget (200), while 200 good uploads go 16 at a time."""
    folder, photos, _ = trained
    process, url = start_service(folder / "model.keras", tmp_path / "serve.log")
    try:
        result = abuse(url, process.pid, photos)
    finally:
        stop(process)
    attacks = result["attacks"]
    assert attacks["stalled_body"]["statuses"] == [408] and attacks["stalled_body"]["max_seconds"] < 20
    assert attacks["slow_headers"]["statuses"] == [0] and attacks["slow_headers"]["max_seconds"] < 20
    assert attacks["chunked_flood"]["statuses"] == [413]
    assert attacks["chunked_flood"]["max_bytes_sent"] < 24 * 2**20  # 10 MiB limit plus socket buffers, of 32
    assert attacks["decode_bomb"]["statuses"] == [422] and attacks["large_photo"]["statuses"] == [200]
    assert result["good_uploads"]["statuses"] == [200]  # 32 connections in all: under --limit-concurrency
    assert result["health_after"] == 200
    memory = result["memory_mb"]
    assert memory["after"] - memory["before"] < MEMORY_GROWTH_MB, memory
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def test_one_clients_idle_and_slow_sockets_leave_the_others_served(trained, tmp_path):
    """100 idle sockets from one address (127.0.0.2) and 4 slow bodies from another (127.0.0.3) while a third
    (127.0.0.1) makes 50 uploads and asks /health: the first keeps at most --per-client connections, the slow
    bodies get 408 at the whole-body deadline however steadily they trickle, the good client never sees a 503."""
    folder, photos, _ = trained
    options = ("--per-client", "16", "--body-timeout", "2", "--body-deadline", "4", "--header-timeout", "30")
    process, url = start_service(folder / "model.keras", tmp_path / "serve.log", *options)
    host, port = url.removeprefix("http://").split(":")
    idle = []
    try:
        for _ in range(100):
            idle.append(socket.create_connection((host, int(port)), timeout=10, source_address=("127.0.0.2", 0)))
        time.sleep(0.5)
        refused = [status_of(read_answer(sock)) for sock in idle[16:]]
        assert refused == [503] * 84  # answered and closed at once
        with ThreadPoolExecutor(4) as pool:
            slow = [pool.submit(trickle, host, int(port)) for _ in range(4)]
            statuses = [upload(url, photos[n % 10].name, photos[n % 10].read_bytes()).status_code for n in range(50)]
            assert statuses == [200] * 50 and httpx.get(f"{url}/health").status_code == 200
            answers = [future.result() for future in slow]
        assert all(
            status == 408 and b"took over 4 s" in answer and seconds < 8 for status, answer, seconds in answers
        ), answers
    finally:
        for sock in idle:
            sock.close()
        stop(process)


def trickle(host: str, port: int) -> tuple[int, bytes, float]:
    """A body sent one byte a second (under --body-timeout) from 127.0.0.3: (status, answer, seconds)."""
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=20, source_address=("127.0.0.3", 0)) as connection:
        head = "POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000\r\n"
        part = b'--x\r\nContent-Disposition: form-data; name="photo"; filename="a.png"\r\n\r\n'
        connection.sendall(f"{head}Content-Type: multipart/form-data; boundary=x\r\n\r\n".encode() + part)
        with contextlib.suppress(OSError):
            for _ in range(20):
                connection.sendall(b"a")  # a photo that never ends
                time.sleep(1)
        answer = read_answer(connection)
        return status_of(answer), answer, time.monotonic() - started
