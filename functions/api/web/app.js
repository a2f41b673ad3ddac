// Intake staff page: plain browser JavaScript; its one library is Cognito's SDK (static/amazon-cognito-identity.min.js). Every API call is relative to the page's URL, so the
// page works at / locally and under the stage path (/prod/) behind API Gateway.
"use strict";

(function () {
  const TOKEN_KEY = "intake.session";
  const POLL_MS = 1000;
  const SLOW_POLL_MS = 3000;
  const STATUS_TEXT = {
    AWAITING_FILE: "Waiting for the file…",
    VALIDATING: "Checking every row…",
    REJECTED: "The file cannot be used.",
    VALIDATED: "Every row is ready.",
    VALIDATED_WITH_ERRORS: "Some rows need fixing.",
    CREATING: "Creating accounts…",
    COMPLETED: "Done.",
    COMPLETED_WITH_ERRORS: "Done, but some rows failed.",
    FAILED: "Creating the accounts failed. Try again later or ask for help.",
    EXPIRED: "This upload expired before it was confirmed. Upload the file again.",
  };
  const FINISHED = new Set(["REJECTED", "VALIDATED", "VALIDATED_WITH_ERRORS", "COMPLETED", "COMPLETED_WITH_ERRORS",
    "FAILED", "EXPIRED"]);

  const state = {
    config: null,
    session: null, // {idToken, username, expiresAt}
    challenge: null, // {user, username, handlers}: the sign-in in progress (kept while signed in, for MFA set-up)
    facilities: [],
    facilityId: null,
    upload: null, // the upload view being worked on
    pollTimer: null,
    pollGeneration: 0,
    roster: { learners: [], nextCursor: null, selected: new Set(), query: null, generation: 0 },
    learner: null, // the learner open in the Learners tab
    uploads: { list: [], nextCursor: null, generation: 0 },
    staff: { list: [], open: null, invited: null, generation: 0 }, // the Staff tab
    locations: { agencies: null, agencyId: null, facilities: [], renaming: null, generation: 0 },
    settings: null, // the facility settings as loaded
    audit: { entries: [], next: null, generation: 0 },
  };

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (name === "text") node.textContent = value;
      else if (name === "className") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children || []) node.append(child);
    return node;
  }

  function show(id, visible) {
    $(id).hidden = !visible;
  }

  function notice(message) {
    $("notice").textContent = message || "";
  }

  // ------------------------------------------------------------------ sign-in (Cognito's browser SDK: SRP and MFA)
  // amazon-cognito-identity-js (static/amazon-cognito-identity.min.js) does the SRP exchange, so the password never
  // leaves the page, and hands back Cognito's challenges: a new password, an authenticator code, or TOTP enrolment.

  class CognitoError extends Error {
    constructor(type, message) {
      super(message || type);
      this.type = type || "";
    }
  }

  function cognitoUser(username) {
    const sdk = window.AmazonCognitoIdentity;
    const pool = new sdk.CognitoUserPool({
      UserPoolId: state.config.userPoolId,
      ClientId: state.config.userPoolClientId,
      endpoint: state.config.cognitoEndpoint,
      Storage: window.sessionStorage, // tab-scoped, like the page's own session
    });
    const user = new sdk.CognitoUser({ Username: username, Pool: pool, Storage: window.sessionStorage });
    user.setAuthenticationFlowType(state.config.authFlow || "USER_SRP_AUTH");
    return user;
  }

  function signInMessage(error) {
    switch (error.type || error.code) {
      case "NotAuthorizedException":
      case "UserNotFoundException":
        return "The username or password is not right. Check them and try again.";
      case "PasswordResetRequiredException":
        return "Your password must be reset: ask your administrator.";
      case "InvalidPasswordException":
        return "That password is not strong enough: " + error.message;
      case "CodeMismatchException":
      case "EnableSoftwareTokenMFAException":
        return "That code is not right. Enter the 6 digits your authenticator app shows now.";
      case "TooManyRequestsException":
      case "LimitExceededException":
        return "Too many attempts. Wait a minute and try again.";
      case "Network":
      case "NetworkError":
        return "The sign-in service cannot be reached. Check the network and try again.";
      default:
        return error.message || "Sign-in failed. Try again.";
    }
  }

  function showStep(form) {
    for (const id of ["sign-in-form", "new-password-form", "mfa-code-form", "mfa-setup-form"]) show(id, id === form);
  }

  // The callbacks of one sign-in: each challenge shows its form; errors show in the form that is open.
  function callbacks(errorId) {
    return {
      onSuccess: (session) => {
        startSession(session.getIdToken().getJwtToken());
      },
      onFailure: (error) => {
        $(errorId()).textContent = signInMessage(error);
      },
      newPasswordRequired: () => {
        showStep("new-password-form");
        $("new-password").focus();
      },
      totpRequired: () => {
        $("mfa-code").value = "";
        showStep("mfa-code-form");
        $("mfa-code").focus();
      },
      mfaSetup: () => enrolAuthenticator(),
      selectMFAType: () => state.challenge.user.sendMFASelectionAnswer("SOFTWARE_TOKEN_MFA", state.challenge.handlers),
    };
  }

  function openErrorId() {
    const open = ["new-password-form", "mfa-code-form", "mfa-setup-form"].find((id) => !$(id).hidden);
    return open ? open.replace("-form", "-error") : "sign-in-error";
  }

  // Shows the authenticator's secret (as text and as an otpauth: link) and waits for its first code.
  function enrolAuthenticator() {
    state.challenge.user.associateSoftwareToken({
      associateSecretCode: (secret) => {
        const label = encodeURIComponent("Intake:" + state.challenge.username);
        $("mfa-secret").textContent = secret;
        $("mfa-secret-link").href = "otpauth://totp/" + label + "?secret=" + secret + "&issuer=Intake";
        $("mfa-setup-code").value = "";
        showStep("mfa-setup-form");
        $("mfa-setup-code").focus();
      },
      onFailure: (error) => {
        $(openErrorId()).textContent = signInMessage(error);
      },
    });
  }

  function decodeClaims(jwt) {
    const part = jwt.split(".")[1] || "";
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    return JSON.parse(decodeURIComponent(Array.from(json, (c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0")).join("")));
  }

  function startSession(idToken) {
    const claims = decodeClaims(idToken);
    state.session = {
      idToken: idToken,
      username: claims["cognito:username"] || claims.username || "",
      expiresAt: (claims.exp || 0) * 1000,
    };
    // Tab-scoped (gone when the tab closes); the API docs page reuses it for "Try it out".
    sessionStorage.setItem(TOKEN_KEY, JSON.stringify(state.session));
    return enterApp();
  }

  function onSignIn(event) {
    event.preventDefault();
    const username = $("username").value.trim();
    const password = $("password").value;
    $("sign-in-error").textContent = "";
    if (!username || !password) {
      $("sign-in-error").textContent = "Enter your username and your password.";
      return;
    }
    if (!window.AmazonCognitoIdentity) {
      $("sign-in-error").textContent = "The sign-in library did not load. Reload the page to try again.";
      return;
    }
    const user = cognitoUser(username);
    const handlers = callbacks(openErrorId);
    state.challenge = { user: user, username: username, handlers: handlers };
    const details = new window.AmazonCognitoIdentity.AuthenticationDetails({ Username: username, Password: password });
    $("password").value = "";
    user.authenticateUser(details, handlers);
  }

  function onNewPassword(event) {
    event.preventDefault();
    $("new-password-error").textContent = "";
    const password = $("new-password").value;
    $("new-password").value = "";
    state.challenge.user.completeNewPasswordChallenge(password, {}, state.challenge.handlers);
  }

  function onMfaCode(event) {
    event.preventDefault();
    $("mfa-code-error").textContent = "";
    state.challenge.user.sendMFACode($("mfa-code").value.trim(), state.challenge.handlers, "SOFTWARE_TOKEN_MFA");
  }

  function onMfaSetup(event) {
    event.preventDefault();
    $("mfa-setup-error").textContent = "";
    const { user, handlers } = state.challenge;
    user.verifySoftwareToken($("mfa-setup-code").value.trim(), "Intake", {
      onSuccess: (session) => {
        // From now on Cognito asks for a code at every sign-in; this session already proved one.
        user.setUserMfaPreference(null, { PreferredMfa: true, Enabled: true }, () => handlers.onSuccess(session));
      },
      onFailure: handlers.onFailure,
    });
  }

  // The API refuses an administrator without an authenticator (MFA_REQUIRED): enrol one from the signed-in session.
  function requireAuthenticator() {
    const user = state.challenge && state.challenge.user;
    show("app-view", false);
    show("sign-in-view", true);
    if (!user || !user.getSignInUserSession()) {
      signOut("Your role needs an authenticator app. Sign in again to set one up.");
      return;
    }
    $("mfa-setup-intro").textContent = "Your role needs an authenticator app for every sign-in. Set it up now.";
    enrolAuthenticator();
  }

  function signOut(message) {
    state.session = null;
    state.challenge = null;
    state.pollGeneration += 1;
    clearTimeout(state.pollTimer);
    sessionStorage.removeItem(TOKEN_KEY);
    show("app-view", false);
    show("sign-out", false);
    for (const button of document.querySelectorAll(".admin-task")) button.hidden = true;
    state.locations.agencies = null; // the next person's agencies are theirs
    state.locations.agencyId = null;
    $("who").textContent = "";
    showStep("sign-in-form");
    show("sign-in-view", true);
    notice(message || "");
    $("username").focus();
  }

  // ------------------------------------------------------------------ the API

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || "Request failed (" + status + ")");
      this.status = status;
      this.body = body || {};
    }
  }

  // `binary`: the answer is a file (a PDF): it comes back as a Blob, never decoded as text.
  async function api(method, path, body, binary) {
    if (!state.session || Date.now() > state.session.expiresAt - 30000) {
      signOut("Your session ended. Sign in again to go on.");
      throw new ApiError(401, { code: "UNAUTHENTICATED", message: "Sign in again." });
    }
    const headers = { Authorization: "Bearer " + state.session.idToken };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    // API Gateway hands back a file's bytes only when the first Accept type is a binary one (BinaryMediaTypes).
    if (binary) headers.Accept = "application/pdf, application/json;q=0.9";
    let response;
    try {
      response = await fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      throw new ApiError(0, { message: "Intake cannot be reached. Check the network and try again." });
    }
    if (response.status === 401) {
      signOut("Your session ended. Sign in again to go on.");
      throw new ApiError(401, { message: "Sign in again." });
    }
    const type = response.headers.get("Content-Type") || "";
    const json = type.startsWith("application/json");
    const data = json ? await response.json() : binary && response.ok ? await response.blob() : await response.text();
    if (response.status === 403 && data && data.code === "MFA_REQUIRED") {
      requireAuthenticator();
      throw new ApiError(403, data);
    }
    if (!response.ok) throw new ApiError(response.status, typeof data === "object" ? data : { message: data });
    return { data: data, response: response };
  }

  // ------------------------------------------------------------------ facilities and tasks

  async function enterApp() {
    show("sign-in-view", false);
    show("app-view", true);
    show("sign-out", true);
    $("who").textContent = "Signed in as " + state.session.username;
    notice("");
    try {
      const { data } = await api("GET", "facilities");
      state.facilities = data.facilities || [];
    } catch (error) {
      notice(error.message);
      return;
    }
    const select = $("facility");
    select.replaceChildren(...state.facilities.map((f) => el("option", { value: f.facilityId, text: f.name })));
    if (!state.facilities.length) {
      notice("No facility is in your scope yet: ask your administrator.");
      return;
    }
    selectFacility(state.facilities[0].facilityId);
    $("main").focus();
  }

  function currentFacility() {
    return state.facilities.find((f) => f.facilityId === state.facilityId);
  }

  function fillUnitSelects(facility) {
    const kept = { add: $("add-locationId").value, roster: $("roster-unit").value };
    $("add-locationId").replaceChildren(
      ...facility.housingUnits.map((u) => el("option", { value: u.locationId, text: u.name }))
    );
    $("roster-unit").replaceChildren(
      el("option", { value: "", text: "All housing units" }),
      ...facility.housingUnits.map((u) => el("option", { value: u.locationId, text: u.name }))
    );
    if (facility.housingUnits.some((u) => u.locationId === kept.add)) $("add-locationId").value = kept.add;
    if (facility.housingUnits.some((u) => u.locationId === kept.roster)) $("roster-unit").value = kept.roster;
  }

  function selectFacility(facilityId) {
    state.facilityId = facilityId;
    $("facility").value = facilityId;
    fillUnitSelects(currentFacility());
    resetBulk();
    state.roster.query = null;
    state.uploads.list = [];
    closeLearner();
    updateAdminTasks();
    if (!$("task-learners").hidden) loadRoster(false);
    if (!$("task-uploads").hidden) loadUploads(false);
    if (!$("task-settings").hidden) loadSettings();
    if (!$("task-audit").hidden) loadAudit(false);
  }

  function locationName(locationId) {
    for (const f of state.facilities) {
      if (f.facilityId === locationId) return { facility: f.name, unit: "" };
      const unit = f.housingUnits.find((u) => u.locationId === locationId);
      if (unit) return { facility: f.name, unit: unit.name };
    }
    return { facility: "", unit: locationId };
  }

  function facilityName(facilityId) {
    const facility = state.facilities.find((f) => f.facilityId === facilityId);
    return facility ? facility.name : facilityId;
  }

  function showTask(task) {
    for (const button of document.querySelectorAll(".task")) {
      button.setAttribute("aria-pressed", String(button.dataset.task === task));
    }
    for (const name of TASKS) show("task-" + name, name === task);
    if (state.upload && state.upload.opened) resetBulk(); // an upload opened from the list is left with its tab
    if (task === "learners" && state.roster.query === null) loadRoster(false);
    if (task === "uploads") loadUploads(false);
    if (task === "staff") openStaffList(true);
    if (task === "locations") loadLocations();
    if (task === "settings") loadSettings();
    if (task === "audit") loadAudit(false);
  }

  const TASKS = ["add", "find", "learners", "bulk", "uploads", "staff", "locations", "settings", "audit"];

  function downloadBlob(blob, fileName) {
    const link = el("a", { href: URL.createObjectURL(blob), download: fileName });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  function attachmentName(response, fallback) {
    const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    return match ? match[1] : fallback;
  }

  // ------------------------------------------------------------------ credential slips

  function slip(learner, password) {
    const where = locationName(learner.locationId);
    return el("article", { className: "slip" }, [
      el("h3", { text: "Intake – learner sign-in" }),
      el("dl", {}, [
        el("dt", { text: "Name" }), el("dd", { text: learner.firstName + " " + learner.lastName }),
        el("dt", { text: "DOC ID" }), el("dd", { text: learner.docId }),
        ...(learner.username ? [el("dt", { text: "Username" }), el("dd", { text: learner.username })] : []),
        el("dt", { text: "Facility" }), el("dd", { text: where.facility || facilityName(learner.facilityId || "") }),
        el("dt", { text: "Housing unit" }), el("dd", { text: where.unit }),
      ]),
      ...(password ? [el("div", { className: "password", text: password })] : []),
      el("p", { className: "hint", text: "Keep this slip private. Printed " + new Date().toLocaleString() }),
    ]);
  }

  function printSlips(nodes) {
    $("print-area").replaceChildren(el("div", { className: "slips" }, nodes));
    window.print();
  }

  // ------------------------------------------------------------------ add a learner

  const ADD_FIELDS = ["docId", "firstName", "lastName", "dateOfBirth", "locationId"];

  function clearFieldErrors() {
    for (const name of [...ADD_FIELDS, "password"]) {
      $("add-" + name).removeAttribute("aria-invalid");
      $("add-" + name + "-error").textContent = "";
    }
    $("add-error").replaceChildren();
  }

  async function onAdd(event) {
    event.preventDefault();
    clearFieldErrors();
    const body = {};
    const missing = [];
    for (const name of ADD_FIELDS) {
      body[name] = $("add-" + name).value.trim();
      if (!body[name]) missing.push({ field: name, message: "Enter this." });
    }
    if (missing.length) return showFieldErrors(missing);
    const password = $("add-password").value;
    if (password) body.password = password; // blank: the API generates one
    $("add-button").disabled = true;
    try {
      const { data } = await api("POST", "learners", body);
      $("add-slip").replaceChildren(slip(data.learner, data.generatedPassword || ""));
      $("add-result-title").textContent = data.outcome === "REACTIVATED" ? "Learner reactivated" : "Learner created";
      $("add-result-text").textContent = data.generatedPassword
        ? "Write down or print this password now: it is shown only once."
        : "The learner signs in with the password you entered.";
      show("add-form", false);
      show("add-result", true);
      $("add-result").focus();
      for (const name of ADD_FIELDS) if (name !== "locationId") $("add-" + name).value = "";
      $("add-password").value = "";
    } catch (error) {
      if (error.body.code === "VALIDATION_FAILED" && error.body.errors) showFieldErrors(error.body.errors);
      else if (error.body.code === "LEARNER_EXISTS") showExisting(body.docId, error.body.existing || {});
      else $("add-error").textContent = error.message;
    } finally {
      $("add-button").disabled = false;
    }
  }

  function showFieldErrors(errors) {
    let first = null;
    const other = [];
    for (const e of errors) {
      const input = $("add-" + e.field);
      if (!input) {
        other.push(e.message);
        continue;
      }
      input.setAttribute("aria-invalid", "true");
      $("add-" + e.field + "-error").textContent = e.message;
      first = first || input;
    }
    if (other.length) $("add-error").textContent = other.join(" ");
    if (first) first.focus();
  }

  function showExisting(docId, existing) {
    const where = locationName(existing.locationId || "");
    const text = "A learner with DOC ID " + docId + " already exists" +
      (where.facility ? " at " + where.facility + (where.unit ? ", " + where.unit : "") : " in your agency") + ". ";
    const button = el("button", { type: "button", className: "secondary", text: "Find and move this learner" });
    button.addEventListener("click", () => {
      showTask("find");
      $("find-docId").value = docId;
      findLearners();
    });
    $("add-error").replaceChildren(el("span", { text: text }), button);
  }

  // ------------------------------------------------------------------ find and move

  function destinationSelect(learner, index) {
    const select = el("select", { id: "move-to-" + index, "aria-label": "Move " + learner.firstName + " " + learner.lastName + " to" });
    for (const f of state.facilities) {
      const group = el("optgroup", { label: f.name });
      for (const u of f.housingUnits) {
        const option = el("option", { value: u.locationId, text: u.name });
        if (u.locationId === learner.locationId) option.disabled = true;
        group.append(option);
      }
      select.append(group);
    }
    const firstFree = Array.from(select.options).find((o) => !o.disabled && (currentFacility().housingUnits.some((u) => u.locationId === o.value)));
    if (firstFree) select.value = firstFree.value;
    return select;
  }

  async function findLearners() {
    const docId = $("find-docId").value.trim();
    const tbody = $("find-table").querySelector("tbody");
    tbody.replaceChildren();
    show("find-table", false);
    if (!docId) {
      $("find-status").textContent = "Enter a DOC ID.";
      return;
    }
    $("find-status").textContent = "Searching…";
    try {
      const { data } = await api("GET", "learners?docId=" + encodeURIComponent(docId));
      const learners = data.learners || [];
      $("find-status").textContent = learners.length ? "" : "No learner with DOC ID " + docId + " in your agency.";
      learners.forEach((learner, index) => {
        const where = locationName(learner.locationId);
        const select = destinationSelect(learner, index);
        const button = el("button", { type: "button", text: "Move" });
        button.addEventListener("click", () => moveLearner(learner, select.value));
        tbody.append(el("tr", {}, [
          el("td", { text: learner.firstName + " " + learner.lastName }),
          el("td", { text: learner.docId }),
          el("td", { text: where.facility || facilityName(learner.facilityId) }),
          el("td", { text: where.unit || learner.locationId }),
          el("td", { text: statusText(learner.status) }),
          el("td", {}, [select, " ", button]),
        ]));
      });
      show("find-table", learners.length > 0);
    } catch (error) {
      $("find-status").textContent = error.message;
    }
  }

  async function moveLearner(learner, locationId) {
    $("find-status").textContent = "Moving…";
    try {
      const { data } = await api("POST", "learners/" + encodeURIComponent(learner.learnerId) + "/move", { locationId: locationId });
      const where = locationName(data.learner.locationId);
      await findLearners();
      $("find-status").textContent = learner.firstName + " " + learner.lastName + " moved to " + where.facility +
        (where.unit ? ", " + where.unit : "") + ".";
    } catch (error) {
      $("find-status").textContent = "Not moved: " + error.message;
    }
  }

  // ------------------------------------------------------------------ bulk upload

  function resetBulk() {
    state.pollGeneration += 1;
    clearTimeout(state.pollTimer);
    state.upload = null;
    show("opened-upload", false);
    show("template-step", true);
    show("file-step", true);
    for (const id of ["check-step", "confirm-step", "credentials-step", "upload-progress", "errors-block", "creation-progress"]) {
      show(id, false);
    }
    for (const id of ["plan-block", "hold-block", "undo-block"]) show(id, false);
    $("slips-preview").replaceChildren();
    $("skip-invalid").checked = false;
    $("move-existing").checked = false;
    $("allow-mass").checked = false;
    $("undo-status").textContent = "";
    $("undo-error").textContent = "";
    $("undo-button").disabled = false;
  }

  async function downloadTemplate() {
    try {
      const { data, response } = await api("GET", "facilities/" + encodeURIComponent(state.facilityId) + "/template");
      downloadBlob(new Blob([data], { type: "text/csv" }), attachmentName(response, "template.csv"));
    } catch (error) {
      notice(error.message);
    }
  }

  function sendFile(link, file) {
    // XMLHttpRequest, not fetch: only it reports upload progress.
    return new Promise((resolve, reject) => {
      const form = new FormData();
      for (const [name, value] of Object.entries(link.fields || {})) form.append(name, value);
      form.append("file", file, file.name);
      const request = new XMLHttpRequest();
      request.open(link.method || "POST", link.url);
      request.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        const percent = Math.round((event.loaded / event.total) * 100);
        $("upload-bar").value = percent;
        $("upload-percent").textContent = percent + "%";
      });
      request.addEventListener("load", () => {
        if (request.status >= 200 && request.status < 300) resolve();
        else reject(new Error("The file was not accepted (" + request.status + "). Upload it again."));
      });
      request.addEventListener("error", () => reject(new Error("The upload was interrupted. Upload the file again.")));
      request.send(link.method === "PUT" ? file : form);
    });
  }

  async function onUpload(event) {
    event.preventDefault();
    const file = $("upload-file").files[0];
    resetBulk();
    if (!file) {
      notice("Choose the file to upload first.");
      $("upload-file").focus();
      return;
    }
    notice("");
    $("upload-button").disabled = true;
    $("upload-bar").value = 0;
    $("upload-percent").textContent = "0%";
    $("upload-label").textContent = "Uploading " + file.name;
    show("upload-progress", true);
    try {
      const mode = document.querySelector('input[name="upload-mode"]:checked').value;
      const { data } = await api("POST", "uploads", { facilityId: state.facilityId, fileName: file.name, mode: mode });
      if (file.size > data.upload.maxBytes) throw new Error("The file is too large: split it into smaller files.");
      await sendFile(data.upload, file);
      $("upload-bar").value = 100;
      $("upload-percent").textContent = "100%";
      $("upload-label").textContent = "Uploaded " + file.name;
      show("check-step", true);
      $("bulk-status").textContent = STATUS_TEXT.VALIDATING;
      poll(data.uploadId);
    } catch (error) {
      show("check-step", true);
      $("bulk-status").textContent = error.message;
    } finally {
      $("upload-button").disabled = false;
    }
  }

  function poll(uploadId) {
    const generation = ++state.pollGeneration;
    let count = 0;
    const tick = async () => {
      if (generation !== state.pollGeneration) return;
      try {
        const { data } = await api("GET", "uploads/" + encodeURIComponent(uploadId));
        if (generation !== state.pollGeneration) return;
        state.upload = Object.assign(data, { opened: Boolean(state.upload && state.upload.opened) });
        render(data);
        if (FINISHED.has(data.status)) return;
      } catch (error) {
        if (error.status === 401) return;
        $("bulk-status").textContent = error.message + " Retrying…";
      }
      count += 1;
      state.pollTimer = setTimeout(tick, count < 60 ? POLL_MS : SLOW_POLL_MS);
    };
    tick();
  }

  function plural(n, one, many) {
    return n + " " + (n === 1 ? one : many);
  }

  function render(upload) {
    const counts = upload.counts || {};
    const status = STATUS_TEXT[upload.status] || upload.status;
    show("check-step", true);
    if (upload.status === "VALIDATING" || upload.status === "AWAITING_FILE") {
      $("bulk-status").textContent = status;
      return;
    }
    if (upload.status === "REJECTED") {
      const reason = (upload.errors || []).map((e) => e.message).join(" ") || upload.reason || "";
      $("bulk-status").textContent = status + " " + reason;
      return;
    }
    $("bulk-status").textContent = status + " " + plural(counts.rows || 0, "row", "rows") + " read: " +
      counts.valid + " ready, " + counts.invalid + " with errors.";
    renderErrors(upload);
    renderPlan(upload);
    if (upload.status === "VALIDATED" || upload.status === "VALIDATED_WITH_ERRORS") renderConfirm(upload);
    else renderCreation(upload);
  }

  function renderErrors(upload) {
    const errors = upload.errors || [];
    show("errors-block", errors.length > 0);
    if (!errors.length) return;
    const invalid = (upload.counts || {}).invalid || errors.length;
    $("errors-caption").textContent = errors.length < invalid
      ? "Rows to fix (the first " + errors.length + " of " + invalid + "; the report lists all)"
      : plural(errors.length, "row", "rows") + " to fix";
    $("error-report").href = upload.errorReportUrl || "#";
    show("error-report", Boolean(upload.errorReportUrl));
    $("errors-table").querySelector("tbody").replaceChildren(...errors.map((e) => el("tr", {}, [
      el("td", { className: "line", text: String(e.line) }),
      el("td", { text: e.docId || "" }),
      el("td", { text: e.field || "" }),
      el("td", { text: e.message || e.code }),
    ])));
  }

  // The plan by action: what validation planned and, once confirmed, what was done. A sync lists every action; a
  // create upload the ones it can have.
  const PLAN_ROWS = [
    { action: "Create", planned: "toCreate", done: "created" },
    { action: "Move here", planned: "toMove", done: "moved" },
    { action: "Reactivate", planned: "toReactivate", done: "reactivated" },
    { action: "Update", planned: "toUpdate", done: "updated", sync: true },
    { action: "Unchanged", planned: "unchanged", sync: true },
    { action: "Deactivate", planned: "toDeactivate", done: "deactivated", sync: true },
    { action: "Failed", done: "failed", afterwards: true },
  ];

  function isSync(upload) {
    return upload.mode === "sync";
  }

  function renderPlan(upload) {
    const counts = upload.counts || {};
    const sync = isSync(upload);
    const started = !(upload.status === "VALIDATED" || upload.status === "VALIDATED_WITH_ERRORS" || upload.status === "EXPIRED");
    show("plan-block", true);
    $("plan-mode").textContent = sync
      ? "Mode: sync. The file is the facility's whole roster: learners missing from it are deactivated."
      : "Mode: create. Each row is a new or returning learner.";
    const rows = PLAN_ROWS.filter((r) => (sync || !r.sync) && (started || !r.afterwards));
    const head = [el("th", { scope: "col", text: "Action" }), el("th", { scope: "col", text: "Planned" })];
    if (started) head.push(el("th", { scope: "col", text: "Done" }));
    $("plan-table").querySelector("thead tr").replaceChildren(...head);
    $("plan-table").querySelector("tbody").replaceChildren(...rows.map((r) => {
      const cells = [
        el("th", { scope: "row", text: r.action }),
        el("td", { className: "count" + (r.planned === "toDeactivate" && upload.hold ? " deactivate" : ""),
          text: r.planned ? String(counts[r.planned] || 0) : "" }),
      ];
      if (started) cells.push(el("td", { className: "count", text: r.done ? String(counts[r.done] || 0) : "" }));
      return el("tr", { "data-action": r.action }, cells);
    }));
    $("plan-report").href = upload.planReportUrl || "#";
    show("plan-report", Boolean(upload.planReportUrl));
  }

  function renderConfirm(upload) {
    const counts = upload.counts || {};
    show("confirm-step", true);
    show("confirm-form", true);
    show("creation-progress", false);
    const parts = [plural(counts.toCreate || 0, "new learner", "new learners") + " to create"];
    if (counts.toReactivate) parts.push(plural(counts.toReactivate, "inactive learner", "inactive learners") + " to reactivate");
    if (counts.toMove) parts.push(plural(counts.toMove, "learner", "learners") + " already at another facility of the agency");
    if (counts.invalid) parts.push(plural(counts.invalid, "row", "rows") + " with errors");
    $("plan-summary").textContent = parts.join("; ") + ".";
    show("skip-option", counts.invalid > 0);
    $("skip-label").textContent = "Skip the " + plural(counts.invalid, "row", "rows") + " with errors and create the others";
    show("move-option", counts.toMove > 0);
    $("move-label").textContent = "Move the " + plural(counts.toMove || 0, "learner", "learners") + " at another facility here";
    if (isSync(upload)) {
      if (!counts.toCreate) parts.shift(); // a sync lists only the actions it has
      if (counts.toUpdate) parts.push(plural(counts.toUpdate, "learner", "learners") + " to update");
      if (counts.toDeactivate) parts.push(plural(counts.toDeactivate, "learner", "learners") + " missing from the file, to deactivate");
      $("plan-summary").textContent = parts.length ? parts.join("; ") + "." : "Nothing to change: every learner is as stored.";
      $("skip-label").textContent = "Skip the " + plural(counts.invalid, "row", "rows") + " with errors and apply the others";
    }
    // A hold: more deactivations than the facility allows at once. Confirming needs a second, explicit yes.
    const hold = upload.hold;
    show("hold-block", Boolean(hold));
    if (hold) {
      const n = hold.toDeactivate || counts.toDeactivate || 0;
      $("hold-count").textContent = plural(n, "learner", "learners") + " would be deactivated" +
        (hold.activeLearners ? ", of the facility's " + hold.activeLearners + " active learners." : ".");
      $("hold-message").textContent = hold.message || "";
      $("allow-mass-label").textContent = "Yes, deactivate these " + plural(n, "learner", "learners");
    }
    updateConfirmButton();
  }

  function updateConfirmButton() {
    const upload = state.upload || {};
    const counts = upload.counts || {};
    const blocked = counts.invalid > 0 && !$("skip-invalid").checked;
    const moving = counts.toMove > 0 && $("move-existing").checked ? counts.toMove : 0;
    const reactivating = counts.toReactivate || 0;
    if (isSync(upload)) {
      const held = Boolean(upload.hold) && !$("allow-mass").checked;
      const changes = [["create", counts.toCreate], ["move", moving], ["reactivate", reactivating],
        ["update", counts.toUpdate], ["deactivate", counts.toDeactivate]].filter(([, n]) => n > 0);
      $("confirm-button").disabled = blocked || held || changes.length === 0;
      $("confirm-button").textContent = blocked
        ? "Fix the file, or tick “Skip” to go on"
        : held
          ? "Tick “Yes, deactivate” to go on"
          : changes.length === 0
            ? "Nothing to change"
            : upload.hold
              ? "Deactivate " + plural(counts.toDeactivate, "learner", "learners") + " and apply the roster"
              : "Apply the roster: " + changes.map(([verb, n]) => verb + " " + n).join(", ");
      return;
    }
    const total = (counts.toCreate || 0) + moving + reactivating;
    $("confirm-button").disabled = blocked || total === 0;
    $("confirm-button").textContent = blocked
      ? "Fix the file, or tick “Skip” to go on"
      : "Create " + plural(counts.toCreate || 0, "learner", "learners") + (moving ? " and move " + moving : "") +
        (reactivating ? " and reactivate " + reactivating : "");
  }

  async function onConfirm(event) {
    event.preventDefault();
    const upload = state.upload;
    $("confirm-error").textContent = "";
    $("confirm-button").disabled = true;
    try {
      const body = { skipInvalidRows: $("skip-invalid").checked, moveExisting: $("move-existing").checked };
      if (upload.hold && $("allow-mass").checked) body.allowMassDeactivation = true;
      await api("POST", "uploads/" + encodeURIComponent(upload.uploadId) + "/confirm", body);
      show("confirm-form", false);
      renderCreation(Object.assign({}, upload, { status: "CREATING" }));
      poll(upload.uploadId);
    } catch (error) {
      $("confirm-error").textContent = error.message;
      $("confirm-button").disabled = false;
    }
  }

  function renderCreation(upload) {
    const counts = upload.counts || {};
    const options = upload.options || {};
    show("confirm-step", true);
    show("confirm-form", false);
    show("creation-progress", true);
    $("creation-label").textContent = isSync(upload) ? "Applying the roster" : "Creating accounts";
    const expected = (counts.toCreate || 0) + (counts.toReactivate || 0) + (options.moveExisting ? counts.toMove || 0 : 0) +
      (counts.toUpdate || 0) + (counts.toDeactivate || 0);
    const done = (counts.created || 0) + (counts.reactivated || 0) + (counts.moved || 0) + (counts.failed || 0) +
      (counts.updated || 0) + (counts.deactivated || 0);
    const percent = expected ? Math.min(100, Math.round((done / expected) * 100)) : 100;
    const finished = upload.status !== "CREATING";
    $("creation-bar").value = finished ? 100 : percent;
    $("creation-text").textContent = finished ? STATUS_TEXT[upload.status] || upload.status : done + " of " + expected;
    if (!finished) return;
    const completed = upload.status === "COMPLETED" || upload.status === "COMPLETED_WITH_ERRORS";
    // A sync that gave nobody a new password has no credentials to hand out.
    show("credentials-step", completed && (!isSync(upload) || (counts.created || 0) + (counts.reactivated || 0) > 0));
    const parts = [plural(counts.created || 0, "learner", "learners") + " created"];
    if (counts.reactivated) parts.push(counts.reactivated + " reactivated");
    if (counts.moved) parts.push(counts.moved + " moved");
    if (counts.updated) parts.push(counts.updated + " updated");
    if (counts.deactivated) parts.push(counts.deactivated + " deactivated");
    if (counts.failed) parts.push(counts.failed + " failed (the CSV says why)");
    $("done-summary").textContent = parts.join(", ") + ".";
    const undoable = completed && isSync(upload) && (counts.deactivated || 0) > 0;
    if (completed && isSync(upload)) {
      const applied = parts.filter((part) => !part.startsWith("0 "));
      $("creation-text").textContent = STATUS_TEXT[upload.status] + " " + (applied.length ? applied.join(", ") + "." : "Nothing changed.");
    }
    show("undo-block", undoable);
    if (undoable) {
      $("undo-text").textContent = "This sync deactivated " + plural(counts.deactivated, "learner", "learners") +
        ". Within 30 days you can undo it: each one that nothing has changed since is reactivated.";
    }
  }

  async function onUndo() {
    const upload = state.upload;
    $("undo-error").textContent = "";
    $("undo-status").textContent = "Reactivating…";
    $("undo-button").disabled = true;
    try {
      const { data } = await api("POST", "uploads/" + encodeURIComponent(upload.uploadId) + "/undo-deactivations");
      const parts = [plural(data.reactivated || 0, "learner", "learners") + " reactivated"];
      if (data.skipped) parts.push(data.skipped + " skipped: changed since the sync");
      $("undo-status").textContent = "Undone: " + parts.join(", ") + ".";
    } catch (error) {
      $("undo-status").textContent = "";
      $("undo-error").textContent = "Nothing was undone: " + error.message;
      $("undo-button").disabled = false;
    }
  }

  // results.csv: quoted CSV with a BOM; cells that a spreadsheet would run carry a leading apostrophe.
  function parseCsv(text) {
    const rows = [];
    let row = [];
    let cell = "";
    let quoted = false;
    text = text.replace(/^\ufeff/, "");
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') { cell += '"'; i++; }
        else if (c === '"') quoted = false;
        else cell += c;
      } else if (c === '"') quoted = true;
      else if (c === ",") { row.push(cell); cell = ""; }
      else if (c === "\n") { row.push(cell.replace(/\r$/, "")); rows.push(row); row = []; cell = ""; }
      else cell += c;
    }
    if (cell || row.length) { row.push(cell); rows.push(row); }
    const header = rows.shift() || [];
    return rows.filter((r) => r.length > 1).map((r) => Object.fromEntries(header.map((h, i) => [h, unneutralise(r[i] || "")])));
  }

  function unneutralise(cell) {
    return /^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell;
  }

  async function freshResultsUrl() {
    const { data } = await api("GET", "uploads/" + encodeURIComponent(state.upload.uploadId));
    state.upload = Object.assign(data, { opened: state.upload.opened });
    if (!data.resultReportUrl) throw new Error("The credentials are no longer available.");
    return data.resultReportUrl;
  }

  async function onPrintSlips() {
    $("credentials-error").textContent = "";
    try {
      const response = await fetch(await freshResultsUrl());
      if (!response.ok) throw new Error("The credentials could not be read (" + response.status + ").");
      const rows = parseCsv(await response.text()).filter((r) => (r.outcome === "CREATED" || r.outcome === "REACTIVATED") && r.password);
      const slips = rows.map((r) => slip({
        firstName: r.firstName, lastName: r.lastName, docId: r.docID, locationId: r.locationId, facilityId: state.upload.facilityId,
      }, r.password));
      $("slips-preview").replaceChildren(...slips.map((s) => s.cloneNode(true)));
      printSlips(slips);
    } catch (error) {
      $("credentials-error").textContent = error.message;
    }
  }

  async function onDownloadResults() {
    $("credentials-error").textContent = "";
    try {
      window.location.href = await freshResultsUrl();
    } catch (error) {
      $("credentials-error").textContent = error.message;
    }
  }

  // ------------------------------------------------------------------ learners: the facility's roster

  const ROSTER_LIMIT = 50;
  const HISTORY_TEXT = {
    CREATED: "Created",
    MOVED: "Moved",
    EDITED: "Edited",
    DEACTIVATED: "Deactivated",
    REACTIVATED: "Reactivated",
    PASSWORD_RESET: "Password reset",
  };
  const FIELD_TEXT = { firstName: "first name", lastName: "last name", dateOfBirth: "date of birth", locationId: "housing unit" };
  const EDIT_FIELDS = ["firstName", "lastName", "dateOfBirth", "locationId"];

  function fullName(learner) {
    return learner.firstName + " " + learner.lastName;
  }

  function statusText(status) {
    return status === "INACTIVE" ? "Inactive" : "Active";
  }

  function when(iso) {
    const date = new Date(iso);
    return isNaN(date) ? iso || "" : date.toLocaleString();
  }

  function placeText(locationId) {
    if (!locationId) return "";
    const where = locationName(locationId);
    return where.facility ? where.facility + (where.unit ? ", " + where.unit : "") : locationId;
  }

  function rosterPath(cursor) {
    const query = state.roster.query;
    const params = new URLSearchParams({ status: query.status, limit: String(ROSTER_LIMIT) });
    if (query.q) params.set("q", query.q);
    if (query.locationId) params.set("locationId", query.locationId);
    if (cursor) params.set("cursor", cursor);
    return "facilities/" + encodeURIComponent(state.facilityId) + "/learners?" + params.toString();
  }

  // `more`: the next page (nextCursor) is added under the rows shown; otherwise the list starts again.
  async function loadRoster(more) {
    const roster = state.roster;
    const generation = ++roster.generation;
    if (!more) {
      roster.query = { q: $("roster-q").value.trim(), locationId: $("roster-unit").value, status: $("roster-status-filter").value };
      roster.learners = [];
      roster.nextCursor = null;
      roster.selected.clear();
    }
    $("roster-error").textContent = "";
    $("roster-status").textContent = "Loading learners…";
    try {
      const { data } = await api("GET", rosterPath(more ? roster.nextCursor : null));
      if (generation !== roster.generation) return;
      roster.learners = roster.learners.concat(data.learners || []);
      roster.nextCursor = data.nextCursor || null;
      renderRoster();
    } catch (error) {
      if (generation !== roster.generation) return;
      $("roster-status").textContent = "";
      $("roster-error").textContent = "The learners could not be listed: " + error.message;
    }
  }

  function renderRoster() {
    const roster = state.roster;
    const query = roster.query;
    const tbody = $("roster-table").querySelector("tbody");
    tbody.replaceChildren(...roster.learners.map((learner) => {
      const box = el("input", { type: "checkbox", "aria-label": "Select " + fullName(learner) });
      box.checked = roster.selected.has(learner.learnerId);
      box.addEventListener("change", () => {
        if (box.checked) roster.selected.add(learner.learnerId);
        else roster.selected.delete(learner.learnerId);
        updateSelection();
      });
      const open = el("button", { type: "button", className: "link", text: learner.lastName + ", " + learner.firstName });
      open.addEventListener("click", () => openLearner(learner.learnerId));
      const where = locationName(learner.locationId);
      return el("tr", { "data-learner-id": learner.learnerId }, [
        el("td", { className: "select" }, [box]),
        el("td", {}, [open]),
        el("td", { text: learner.username || "" }),
        el("td", { text: learner.docId }),
        el("td", { text: where.unit || learner.locationId }),
        el("td", {}, [el("span", { className: "badge " + (learner.status || "ACTIVE").toLowerCase(), text: statusText(learner.status) })]),
      ]);
    }));
    const which = query.status === "ALL" ? "" : statusText(query.status).toLowerCase() + " ";
    const found = query.q ? " matching “" + query.q + "”" : "";
    $("roster-caption").textContent = "Learners" + found + (roster.nextCursor ? " (more below)" : "");
    $("roster-status").textContent = roster.learners.length
      ? "Showing " + plural(roster.learners.length, which + "learner", which + "learners") + found + "."
      : "No " + which + "learners" + found + ".";
    show("roster-table", roster.learners.length > 0);
    show("roster-more", Boolean(roster.nextCursor));
    updateSelection();
  }

  function updateSelection() {
    const roster = state.roster;
    const count = roster.selected.size;
    $("roster-selected").textContent = count + " selected";
    for (const id of ["roster-deactivate", "roster-reactivate", "roster-reset-cards", "roster-cards"]) $(id).disabled = count === 0;
    const shown = roster.learners.length;
    const all = $("roster-all");
    all.checked = shown > 0 && roster.learners.every((l) => roster.selected.has(l.learnerId));
    all.indeterminate = !all.checked && roster.learners.some((l) => roster.selected.has(l.learnerId));
    show("reset-confirm", false);
  }

  function onSelectAll() {
    const roster = state.roster;
    for (const learner of roster.learners) {
      if ($("roster-all").checked) roster.selected.add(learner.learnerId);
      else roster.selected.delete(learner.learnerId);
    }
    renderRoster();
  }

  async function setSelectedStatus(status) {
    const ids = Array.from(state.roster.selected);
    $("roster-error").textContent = "";
    $("roster-status").textContent = (status === "INACTIVE" ? "Deactivating " : "Reactivating ") + plural(ids.length, "learner", "learners") + "…";
    try {
      const { data } = await api("POST", "facilities/" + encodeURIComponent(state.facilityId) + "/learners/status", {
        learnerIds: ids,
        status: status,
      });
      const results = data.results || [];
      const count = (outcome) => results.filter((r) => r.outcome === outcome).length;
      const verb = status === "INACTIVE" ? "deactivated" : "reactivated";
      const parts = [plural(count("CHANGED"), "learner", "learners") + " " + verb];
      if (count("UNCHANGED")) parts.push(count("UNCHANGED") + " already " + (status === "INACTIVE" ? "inactive" : "active"));
      if (count("NOT_FOUND")) parts.push(count("NOT_FOUND") + " not found");
      await loadRoster(false);
      $("roster-status").textContent = parts.join(", ") + ".";
    } catch (error) {
      $("roster-status").textContent = "";
      $("roster-error").textContent = "Nothing was changed: " + error.message;
    }
  }

  async function downloadCards(ids, resetPasswords, statusId, errorId) {
    $(errorId).textContent = "";
    $(statusId).textContent = "Making " + plural(ids.length, "card", "cards") + "…";
    try {
      const { data, response } = await api("POST", "facilities/" + encodeURIComponent(state.facilityId) + "/learner-cards", {
        learnerIds: ids,
        resetPasswords: resetPasswords,
      }, true);
      if (data instanceof Blob) downloadBlob(data, attachmentName(response, "learner-cards.pdf"));
      else if (data && data.url) window.location.href = data.url; // a large set may come as a short-lived link
      else throw new Error("the answer was not a PDF");
      $(statusId).textContent = plural(ids.length, "card", "cards") + " downloaded" +
        (resetPasswords ? ", with new passwords: the old ones no longer work." : ".");
    } catch (error) {
      $(statusId).textContent = "";
      $(errorId).textContent = "The cards could not be made: " + error.message;
    }
  }

  function askResetAndPrint() {
    const count = state.roster.selected.size;
    $("reset-confirm-text").textContent = "This gives the " + plural(count, "selected learner", "selected learners") +
      " a new password and downloads their cards. Their old passwords stop working at once.";
    show("reset-confirm", true);
    $("reset-confirm-button").focus();
  }

  // ------------------------------------------------------------------ one learner: details, history, edit, password

  function closeLearner() {
    state.learner = null;
    show("learner-view", false);
    show("roster-view", true);
  }

  async function openLearner(learnerId) {
    $("roster-error").textContent = "";
    try {
      const { data } = await api("GET", "learners/" + encodeURIComponent(learnerId));
      showLearner(data.learner);
      show("roster-view", false);
      show("learner-view", true);
      $("learner-name").focus();
    } catch (error) {
      $("roster-error").textContent = error.message;
    }
  }

  function showLearner(learner) {
    state.learner = learner;
    for (const id of ["edit-form", "password-form", "password-result"]) show(id, false);
    $("learner-status").textContent = "";
    $("learner-error").textContent = "";
    $("learner-name").textContent = fullName(learner);
    const where = locationName(learner.locationId);
    const rows = [
      ["Username", learner.username || ""],
      ["DOC ID", learner.docId],
      ["Date of birth", learner.dateOfBirth],
      ["Facility", where.facility || facilityName(learner.facilityId)],
      ["Housing unit", where.unit || learner.locationId],
      ["Status", statusText(learner.status)],
      ["Last changed", when(learner.updatedAt || learner.createdAt)],
    ];
    $("learner-details").replaceChildren(...rows.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", { text: value })]));
    $("learner-toggle").textContent = learner.status === "INACTIVE" ? "Reactivate" : "Deactivate";
    $("history-table").querySelector("tbody").replaceChildren(...(learner.history || []).map((entry) => {
      const moved = (entry.kind || "MOVED") === "MOVED";
      return el("tr", {}, [
        el("td", { text: HISTORY_TEXT[entry.kind || "MOVED"] || entry.kind }),
        el("td", { text: when(entry.at || entry.movedAt) }),
        el("td", { text: entry.by || entry.movedBy || "" }),
        el("td", { text: moved ? placeText(entry.fromLocationId) : "" }),
        el("td", { text: moved ? placeText(entry.toLocationId) : "" }),
        el("td", { text: (entry.fields || []).map((f) => FIELD_TEXT[f] || f).join(", ") }),
      ]);
    }));
  }

  function learnerPath(suffix) {
    return "learners/" + encodeURIComponent(state.learner.learnerId) + (suffix || "");
  }

  function openEdit() {
    const learner = state.learner;
    show("password-form", false);
    show("password-result", false);
    const facility = state.facilities.find((f) => f.facilityId === learner.facilityId) || currentFacility();
    $("edit-locationId").replaceChildren(...facility.housingUnits.map((u) => el("option", { value: u.locationId, text: u.name })));
    for (const name of EDIT_FIELDS) {
      $("edit-" + name).value = learner[name] || "";
      $("edit-" + name).removeAttribute("aria-invalid");
      $("edit-" + name + "-error").textContent = "";
    }
    $("edit-error").textContent = "";
    show("edit-form", true);
    $("edit-firstName").focus();
  }

  async function onEdit(event) {
    event.preventDefault();
    const learner = state.learner;
    const changes = {};
    for (const name of EDIT_FIELDS) {
      const input = $("edit-" + name);
      input.removeAttribute("aria-invalid");
      $("edit-" + name + "-error").textContent = "";
      const value = input.value.trim();
      if (value !== (learner[name] || "")) changes[name] = value;
    }
    $("edit-error").textContent = "";
    if (!Object.keys(changes).length) {
      $("edit-error").textContent = "Nothing was changed.";
      return;
    }
    $("edit-save").disabled = true;
    try {
      const { data } = await api("PATCH", learnerPath(), changes);
      showLearner(data.learner);
      $("learner-status").textContent = "Saved: " + Object.keys(changes).map((f) => FIELD_TEXT[f]).join(", ") + ".";
      refreshRosterRow(data.learner);
    } catch (error) {
      const fields = (error.body.errors || []).filter((e) => $("edit-" + e.field));
      for (const e of fields) {
        $("edit-" + e.field).setAttribute("aria-invalid", "true");
        $("edit-" + e.field + "-error").textContent = e.message;
      }
      if (fields.length) $("edit-" + fields[0].field).focus();
      else $("edit-error").textContent = error.status === 409
        ? "Someone else changed this learner meanwhile. Go back to the list and open it again."
        : error.message;
    } finally {
      $("edit-save").disabled = false;
    }
  }

  function refreshRosterRow(learner) {
    const roster = state.roster;
    roster.learners = roster.learners.map((l) => (l.learnerId === learner.learnerId ? learner : l));
    if (roster.query) renderRoster();
  }

  async function onToggleStatus() {
    const learner = state.learner;
    const action = learner.status === "INACTIVE" ? "reactivate" : "deactivate";
    $("learner-error").textContent = "";
    try {
      const { data } = await api("POST", learnerPath("/" + action));
      showLearner(data.learner);
      $("learner-status").textContent = fullName(data.learner) + " is " + statusText(data.learner.status).toLowerCase() + ".";
      refreshRosterRow(data.learner);
    } catch (error) {
      $("learner-error").textContent = error.message;
    }
  }

  function openPassword() {
    show("edit-form", false);
    show("password-result", false);
    $("reset-password").value = "";
    $("password-error").textContent = "";
    show("password-form", true);
    $("reset-password").focus();
  }

  async function onPassword(event) {
    event.preventDefault();
    const password = $("reset-password").value;
    $("reset-password").value = "";
    $("password-error").textContent = "";
    $("password-save").disabled = true;
    try {
      const { data } = await api("POST", learnerPath("/password"), password ? { password: password } : {});
      showLearner(data.learner);
      if (data.generatedPassword) {
        $("password-slip").replaceChildren(slip(data.learner, data.generatedPassword));
        show("password-result", true);
        $("password-result").focus();
      }
      $("learner-status").textContent = "Password reset: the old password no longer works.";
    } catch (error) {
      $("password-error").textContent = error.message;
      show("password-form", true);
    } finally {
      $("password-save").disabled = false;
    }
  }

  // ------------------------------------------------------------------ uploads of the facility, drops included

  const UPLOAD_STATUS_TEXT = {
    AWAITING_FILE: "Waiting for the file",
    VALIDATING: "Checking",
    REJECTED: "Rejected",
    VALIDATED: "Awaiting confirmation",
    VALIDATED_WITH_ERRORS: "Awaiting confirmation (rows with errors)",
    CREATING: "Creating accounts",
    COMPLETED: "Completed",
    COMPLETED_WITH_ERRORS: "Completed with errors",
    FAILED: "Failed",
    EXPIRED: "Expired",
  };

  async function loadUploads(more) {
    const uploads = state.uploads;
    const generation = ++uploads.generation;
    if (!more) {
      uploads.list = [];
      uploads.nextCursor = null;
    }
    $("uploads-status").textContent = "Loading uploads…";
    const params = new URLSearchParams({ limit: "50" });
    if (more && uploads.nextCursor) params.set("cursor", uploads.nextCursor);
    try {
      const { data } = await api("GET", "facilities/" + encodeURIComponent(state.facilityId) + "/uploads?" + params.toString());
      if (generation !== uploads.generation) return;
      uploads.list = uploads.list.concat(data.uploads || []);
      uploads.nextCursor = data.nextCursor || null;
      renderUploads();
    } catch (error) {
      if (generation !== uploads.generation) return;
      $("uploads-status").textContent = "The uploads could not be listed: " + error.message;
    }
  }

  function renderUploads() {
    const list = state.uploads.list;
    const waiting = list.filter((u) => u.status === "VALIDATED" || u.status === "VALIDATED_WITH_ERRORS").length;
    $("uploads-status").textContent = list.length
      ? plural(list.length, "upload", "uploads") + (waiting ? ", " + waiting + " awaiting confirmation." : ".")
      : "No uploads for this facility yet.";
    $("uploads-table").querySelector("tbody").replaceChildren(...list.map((upload) => {
      const counts = upload.counts || {};
      const name = upload.fileName || "(no file name)";
      const open = el("button", { type: "button", className: "secondary", text: "Open", "aria-label": "Open " + name + " of " + when(upload.createdAt) });
      open.addEventListener("click", () => openUpload(upload));
      return el("tr", { "data-upload-id": upload.uploadId }, [
        el("td", { text: name }),
        el("td", { text: (upload.source === "drop" ? "Drop folder" : "Uploaded here") + (isSync(upload) ? ", roster sync" : "") }),
        el("td", { text: UPLOAD_STATUS_TEXT[upload.status] || upload.status }),
        el("td", { text: String(counts.rows || 0) }),
        el("td", { text: String(counts.valid || 0) }),
        el("td", { text: String(counts.invalid || 0) }),
        el("td", { text: String((counts.created || 0) + (counts.reactivated || 0)) }),
        el("td", { text: when(upload.createdAt) + (upload.createdBy ? " by " + upload.createdBy : "") }),
        el("td", {}, [open]),
      ]);
    }));
    show("uploads-table", list.length > 0);
    show("uploads-more", Boolean(state.uploads.nextCursor));
  }

  // An upload of the list opens in the bulk upload steps (check, confirm, credentials), as one just uploaded does.
  function openUpload(upload) {
    showTask("bulk");
    resetBulk();
    state.upload = Object.assign({}, upload, { opened: true });
    show("template-step", false);
    show("file-step", false);
    $("opened-upload-text").textContent = (upload.fileName || "Upload") + " — " +
      (upload.source === "drop" ? "dropped into the facility's folder" : "uploaded") + " " + when(upload.createdAt) +
      (upload.createdBy ? " by " + upload.createdBy : "");
    show("opened-upload", true);
    render(upload);
    poll(upload.uploadId);
    $("bulk-title").focus();
  }

  // ------------------------------------------------------------------ administration: who sees which screen
  // GET /facilities gives the requestor's role at each facility (their highest grant covering it, as the API decides
  // by): Staff and Locations need an admin role somewhere, Facility settings and Audit one at the chosen facility.
  // The API still decides every call; a refusal shows its message.

  const ROLE_RANK = { Educator: 1, FacilityAdmin: 2, AgencyAdmin: 3, SystemAdmin: 4 };
  const ROLE_TEXT = { Educator: "Educator", FacilityAdmin: "Facility admin", AgencyAdmin: "Agency admin", SystemAdmin: "System admin" };
  const ADMIN_RANK = ROLE_RANK.FacilityAdmin;

  function rankAt(facility) {
    return facility ? ROLE_RANK[facility.role] || 0 : 0;
  }

  function adminFacilities() {
    return state.facilities.filter((f) => rankAt(f) >= ADMIN_RANK);
  }

  function isSystemAdmin() {
    return state.facilities.some((f) => f.role === "SystemAdmin");
  }

  function agencyAdminOf(agencyId) {
    return isSystemAdmin() || state.facilities.some((f) => f.agencyId === agencyId && rankAt(f) >= ROLE_RANK.AgencyAdmin);
  }

  function facilityAdminOf(facilityId, agencyId) {
    const facility = state.facilities.find((f) => f.facilityId === facilityId);
    return rankAt(facility) >= ADMIN_RANK || agencyAdminOf(agencyId);
  }

  function allowedTasks() {
    const admin = adminFacilities().length > 0;
    const here = rankAt(currentFacility()) >= ADMIN_RANK;
    return { staff: admin, locations: admin, settings: here, audit: here };
  }

  function updateAdminTasks() {
    const allowed = allowedTasks();
    for (const button of document.querySelectorAll(".admin-task")) button.hidden = !allowed[button.dataset.task];
    const open = TASKS.find((name) => !$("task-" + name).hidden);
    if (open && allowed[open] === false) showTask("add");
  }

  // After a change of locations: the facility list (and its housing units) again, keeping the chosen facility.
  async function refreshFacilities() {
    const { data } = await api("GET", "facilities");
    state.facilities = data.facilities || [];
    $("facility").replaceChildren(...state.facilities.map((f) => el("option", { value: f.facilityId, text: f.name })));
    if (!state.facilities.length) return;
    if (currentFacility()) {
      $("facility").value = state.facilityId;
      fillUnitSelects(currentFacility());
      updateAdminTasks();
    } else {
      selectFacility(state.facilities[0].facilityId);
    }
  }

  function clearErrors(prefix, fields) {
    for (const name of fields) {
      const input = $(prefix + name);
      if (input) input.removeAttribute("aria-invalid");
      const error = $(prefix + name + "-error");
      if (error) error.textContent = "";
    }
  }

  // The API's field errors beside their fields (`fieldId` maps an API field to the form's); the rest in `errorId`.
  function showApiError(error, prefix, fieldId, errorId) {
    const other = [];
    let first = null;
    for (const e of (error.body && error.body.errors) || []) {
      const name = fieldId(e.field);
      const input = name && $(prefix + name);
      const slot = name && $(prefix + name + "-error");
      if (!slot) {
        other.push(e.message);
        continue;
      }
      if (input) input.setAttribute("aria-invalid", "true");
      slot.textContent = e.message;
      first = first || input;
    }
    if (other.length) $(errorId).textContent = other.join(" ");
    else if (!first) $(errorId).textContent = error.message;
    if (first) first.focus();
  }

  // ------------------------------------------------------------------ staff

  const STAFF_FIELDS = ["username", "email", "title", "firstName", "lastName", "displayFirstName", "displayLastName",
    "role", "facilityId"];

  function staffName(member) {
    const name = [member.firstName, member.lastName].filter(Boolean).join(" ");
    return name || member.username;
  }

  function displayName(member) {
    return [member.displayFirstName, member.displayLastName].filter(Boolean).join(" ");
  }

  function grantText(grant) {
    const role = ROLE_TEXT[grant.role] || grant.role;
    if (grant.role === "SystemAdmin") return role + ", everywhere";
    if (!grant.facilityId) return role + " of the whole agency " + (grant.agencyId || "");
    return role + " at " + facilityName(grant.facilityId);
  }

  function roleOptions(select, withAgencyAdmin) {
    const roles = ["Educator", "FacilityAdmin"].concat(withAgencyAdmin ? ["AgencyAdmin"] : []);
    const kept = select.value;
    select.replaceChildren(...roles.map((role) => el("option", { value: role, text: ROLE_TEXT[role] })));
    if (roles.includes(kept)) select.value = kept;
  }

  function facilityOptions(select, facilities) {
    select.replaceChildren(...facilities.map((f) => el("option", { value: f.facilityId, text: f.name })));
    if (facilities.some((f) => f.facilityId === state.facilityId)) select.value = state.facilityId;
  }

  function staffPath(member, suffix) {
    return "staff/" + encodeURIComponent(member.username) + (suffix || "");
  }

  // The list (searched again), with the add form, the one-time password and the record closed.
  function openStaffList(reload) {
    state.staff.open = null;
    state.staff.invited = null;
    $("staff-invited-password").textContent = ""; // shown once: gone when the screen is left
    for (const id of ["staff-add-form", "staff-invited", "staff-record-view"]) show(id, false);
    show("staff-list-view", true);
    if (reload) loadStaff();
  }

  async function loadStaff() {
    const staff = state.staff;
    const generation = ++staff.generation;
    const query = $("staff-q").value.trim();
    $("staff-error").textContent = "";
    $("staff-status").textContent = "Loading staff…";
    try {
      const { data } = await api("GET", "staff" + (query ? "?q=" + encodeURIComponent(query) : ""));
      if (generation !== staff.generation) return;
      staff.list = data.staff || [];
      renderStaff(query);
    } catch (error) {
      if (generation !== staff.generation) return;
      $("staff-status").textContent = "";
      $("staff-error").textContent = error.message;
      show("staff-table", false);
    }
  }

  function renderStaff(query) {
    const list = state.staff.list;
    $("staff-status").textContent = list.length
      ? plural(list.length, "staff member", "staff members") + (query ? " match “" + query + "”." : ".")
      : query ? "No staff member matches “" + query + "”." : "No staff members.";
    $("staff-table").querySelector("tbody").replaceChildren(...list.map((member) => {
      const open = el("button", { type: "button", className: "link", text: staffName(member) });
      open.addEventListener("click", () => openStaff(member));
      return el("tr", { "data-username": member.username }, [
        el("td", {}, [open]),
        el("td", { text: member.username }),
        el("td", { text: member.title || "" }),
        el("td", { text: member.email || "" }),
        el("td", { text: (member.grants || []).map(grantText).join("; ") }),
        el("td", { text: member.active ? "Active" : "Disabled" }),
      ]);
    }));
    show("staff-table", list.length > 0);
  }

  function openInvite() {
    const facilities = adminFacilities();
    roleOptions($("staff-add-role"), facilities.some((f) => rankAt(f) >= ROLE_RANK.AgencyAdmin));
    facilityOptions($("staff-add-facilityId"), facilities);
    clearErrors("staff-add-", STAFF_FIELDS);
    $("staff-add-error").textContent = "";
    for (const name of STAFF_FIELDS.slice(0, 7)) $("staff-add-" + name).value = "";
    show("staff-list-view", false);
    show("staff-add-form", true);
    $("staff-add-username").focus();
  }

  function staffFieldId(field) {
    if (field === "facilityIds" || field === "agencyId" || field.startsWith("facilityIds.")) return "facilityId";
    return STAFF_FIELDS.includes(field) ? field : null;
  }

  async function onInvite(event) {
    event.preventDefault();
    clearErrors("staff-add-", STAFF_FIELDS);
    $("staff-add-error").textContent = "";
    const username = $("staff-add-username").value.trim();
    if (!username) {
      showApiError({ body: { errors: [{ field: "username", message: "Enter the username they will sign in with." }] } },
        "staff-add-", staffFieldId, "staff-add-error");
      return;
    }
    const facility = state.facilities.find((f) => f.facilityId === $("staff-add-facilityId").value);
    const role = $("staff-add-role").value;
    const body = { username: username, role: role };
    if (facility) {
      body.agencyId = facility.agencyId;
      body.facilityIds = role === "AgencyAdmin" ? [] : [facility.facilityId];
    }
    for (const name of STAFF_FIELDS.slice(1, 7)) {
      const value = $("staff-add-" + name).value.trim();
      if (value) body[name] = value;
    }
    $("staff-add-button").disabled = true;
    try {
      const { data } = await api("POST", "staff", body);
      state.staff.invited = data.staff;
      $("staff-invited-text").textContent = "Give " + data.staff.username + " this temporary password now: it is " +
        "shown only once. They choose their own password at their first sign-in.";
      $("staff-invited-password").textContent = data.temporaryPassword;
      show("staff-add-form", false);
      show("staff-invited", true);
      $("staff-invited").focus();
    } catch (error) {
      showApiError(error, "staff-add-", staffFieldId, "staff-add-error");
    } finally {
      $("staff-add-button").disabled = false;
    }
  }

  function openStaff(member) {
    state.staff.invited = null;
    $("staff-invited-password").textContent = "";
    for (const id of ["staff-list-view", "staff-add-form", "staff-invited"]) show(id, false);
    $("staff-record-status").textContent = "";
    $("staff-record-error").textContent = "";
    showStaffRecord(member);
    show("staff-record-view", true);
    $("staff-record-name").focus();
  }

  function showStaffRecord(member) {
    state.staff.open = member;
    state.staff.list = state.staff.list.map((m) => (m.username === member.username ? member : m));
    const self = state.session && member.username === state.session.username;
    $("staff-record-name").textContent = staffName(member) + (member.active ? "" : " (disabled)");
    const rows = [
      ["Username", member.username],
      ["Title", member.title || ""],
      ["First name", member.firstName || ""],
      ["Last name", member.lastName || ""],
      ["Learners see", displayName(member)],
      ["Email", member.email || ""],
      ["Access", member.active ? "Active: can sign in" : "Disabled: cannot sign in"],
    ];
    $("staff-details").replaceChildren(...rows.flatMap(([name, value]) => [el("dt", { text: name }), el("dd", { text: value })]));
    show("staff-self-note", self);
    show("staff-actions", !self);
    $("staff-toggle").textContent = member.active ? "Disable access" : "Enable access";
    $("grants-table").querySelector("tbody").replaceChildren(...(member.grants || []).map((grant) => {
      const cells = [el("td", { text: ROLE_TEXT[grant.role] || grant.role }),
        el("td", { text: grant.facilityId ? facilityName(grant.facilityId) : grant.agencyId ? "The whole agency" : "Everywhere" })];
      const change = el("td");
      if (!self && grant.role !== "SystemAdmin") {
        const remove = el("button", { type: "button", className: "secondary", text: "Remove",
          "aria-label": "Remove the role " + grantText(grant) });
        remove.addEventListener("click", () => changeGrant(grant, "/grants/remove"));
        change.append(remove);
      }
      return el("tr", {}, cells.concat([change]));
    }));
    const places = state.facilities.filter((f) => f.agencyId === member.agencyId && rankAt(f) >= ADMIN_RANK);
    show("grant-form", !self && Boolean(member.agencyId) && places.length > 0);
    roleOptions($("grant-role"), agencyAdminOf(member.agencyId));
    facilityOptions($("grant-facilityId"), places);
    updateGrantFacility();
  }

  function updateGrantFacility() {
    $("grant-facilityId").disabled = $("grant-role").value === "AgencyAdmin";
  }

  async function changeGrant(grant, suffix) {
    const member = state.staff.open;
    $("staff-record-status").textContent = "";
    $("staff-record-error").textContent = "";
    const body = { role: grant.role };
    if (grant.facilityId) body.facilityId = grant.facilityId;
    try {
      const { data } = await api("POST", staffPath(member, suffix), body);
      showStaffRecord(data.staff);
      $("staff-record-status").textContent = (suffix === "/grants" ? "Added: " : "Removed: ") + grantText(grant) + ".";
      $("staff-record-name").focus();
    } catch (error) {
      $("staff-record-error").textContent = error.message;
    }
  }

  function onGrantAdd(event) {
    event.preventDefault();
    const role = $("grant-role").value;
    const facilityId = role === "AgencyAdmin" ? null : $("grant-facilityId").value;
    changeGrant({ role: role, agencyId: state.staff.open.agencyId, facilityId: facilityId }, "/grants");
  }

  async function onStaffToggle() {
    const member = state.staff.open;
    $("staff-record-status").textContent = "";
    $("staff-record-error").textContent = "";
    try {
      const { data } = await api("POST", staffPath(member, member.active ? "/disable" : "/enable"));
      showStaffRecord(data.staff);
      $("staff-record-status").textContent = data.staff.username + (data.staff.active
        ? " is enabled: they can sign in again." : " is disabled: they can no longer sign in.");
    } catch (error) {
      $("staff-record-error").textContent = error.message;
    }
  }

  // ------------------------------------------------------------------ locations

  async function loadLocations() {
    const locations = state.locations;
    const generation = ++locations.generation;
    $("locations-error").textContent = "";
    $("locations-status").textContent = "Loading locations…";
    try {
      if (!locations.agencies) {
        const { data } = await api("GET", "agencies");
        locations.agencies = data.agencies || [];
        $("locations-agency").replaceChildren(...locations.agencies.map((a) => el("option", { value: a.agencyId, text: a.name })));
        show("locations-agency-bar", locations.agencies.length > 1);
      }
      const wanted = locations.agencyId || (currentFacility() && currentFacility().agencyId);
      locations.agencyId = locations.agencies.some((a) => a.agencyId === wanted) ? wanted
        : (locations.agencies[0] || {}).agencyId || null;
      if (!locations.agencyId) throw new Error("No agency is in your scope.");
      $("locations-agency").value = locations.agencyId;
      const { data } = await api("GET", "agencies/" + encodeURIComponent(locations.agencyId) + "/locations");
      if (generation !== locations.generation) return;
      locations.facilities = data.facilities || [];
      renderLocations();
    } catch (error) {
      if (generation !== locations.generation) return;
      $("locations-status").textContent = "";
      $("locations-error").textContent = error.message;
    }
  }

  function activeText(location) {
    return location.active ? "Active" : "Deactivated";
  }

  function locationButtons(location, kindText) {
    const rename = el("button", { type: "button", className: "secondary", text: "Rename", "aria-label": "Rename " + kindText + " " + location.name });
    rename.addEventListener("click", () => openRename(location, kindText));
    const action = location.active ? "Deactivate" : "Reactivate";
    const toggle = el("button", { type: "button", className: "secondary", text: action, "aria-label": action + " " + kindText + " " + location.name });
    toggle.addEventListener("click", () => setLocationActive(location, kindText, !location.active));
    return [rename, " ", toggle];
  }

  function renderLocations() {
    const locations = state.locations;
    const agencyAdmin = agencyAdminOf(locations.agencyId);
    show("facility-add-form", agencyAdmin);
    const list = locations.facilities;
    $("locations-status").textContent = list.length
      ? plural(list.length, "facility", "facilities") + (list.some((f) => !f.active) ? ", deactivated ones included." : ".")
      : "No facility in this agency yet.";
    $("locations-list").replaceChildren(...list.map((facility, index) => {
      const facilityAsLocation = { locationId: facility.facilityId, name: facility.name, active: facility.active };
      const headingId = "location-" + index + "-title";
      const unitAdmin = facilityAdminOf(facility.facilityId, facility.agencyId);
      const block = el("section", { className: "location-block", "aria-labelledby": headingId, "data-facility-id": facility.facilityId }, [
        el("h2", { id: headingId, tabindex: "-1", text: facility.name + (facility.active ? "" : " (deactivated)") }),
        el("p", { className: "hint", text: "Facility id " + facility.facilityId + ". " + activeText(facility) + "." }),
      ]);
      if (agencyAdmin) block.append(el("div", { className: "actions" }, locationButtons(facilityAsLocation, "facility")));
      const units = facility.housingUnits || [];
      const table = el("table", {}, [
        el("caption", { text: "Housing units of " + facility.name }),
        el("thead", {}, [el("tr", {}, [el("th", { scope: "col", text: "Name" }), el("th", { scope: "col", text: "Id" }),
          el("th", { scope: "col", text: "Status" }), el("th", { scope: "col", text: "Change" })])]),
        el("tbody", {}, units.map((unit) => el("tr", { "data-location-id": unit.locationId }, [
          el("td", { text: unit.name }),
          el("td", { text: unit.locationId }),
          el("td", { text: activeText(unit) }),
          el("td", {}, unitAdmin ? locationButtons(unit, "housing unit") : []),
        ]))),
      ]);
      block.append(units.length ? table : el("p", { text: "No housing units yet." }));
      if (unitAdmin) block.append(unitForm(facility, index));
      return block;
    }));
  }

  function unitForm(facility, index) {
    const nameId = "unit-add-name-" + index;
    const idId = "unit-add-id-" + index;
    const name = el("input", { id: nameId, autocomplete: "off", required: "" });
    const id = el("input", { id: idId, autocomplete: "off", autocapitalize: "none", spellcheck: "false", "aria-describedby": "location-id-hint" });
    const form = el("form", { className: "inline-form", novalidate: "", "aria-label": "Add a housing unit to " + facility.name }, [
      el("div", { className: "field" }, [el("label", { for: nameId, text: "New housing unit" }), name]),
      el("div", { className: "field" }, [el("label", { for: idId, text: "Housing unit id (optional)" }), id]),
      el("button", { type: "submit", text: "Add housing unit" }),
    ]);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = { name: name.value.trim() };
      if (id.value.trim()) body.locationId = id.value.trim();
      locationChange("POST", "facilities/" + encodeURIComponent(facility.facilityId) + "/housing-units", body,
        "Housing unit " + body.name + " added to " + facility.name + ".", facility.facilityId, name);
    });
    return form;
  }

  // One change of a location, then the lists again; focus goes back to the facility's heading (or `keep` on error).
  async function locationChange(method, path, body, done, facilityId, keep) {
    $("locations-status").textContent = "";
    $("locations-error").textContent = "";
    try {
      await api(method, path, body);
    } catch (error) {
      $("locations-error").textContent = error.message;
      if (keep) keep.focus();
      return false;
    }
    show("rename-form", false);
    state.locations.renaming = null;
    await loadLocations();
    $("locations-status").textContent = done;
    try {
      await refreshFacilities();
    } catch (error) {
      $("locations-error").textContent = error.message;
    }
    const block = document.querySelector('.location-block[data-facility-id="' + CSS.escape(facilityId || "") + '"] h2');
    (block || $("locations-title")).focus();
    return true;
  }

  function openRename(location, kindText) {
    state.locations.renaming = { location: location, kindText: kindText };
    $("rename-title").textContent = "Rename " + kindText + " " + location.name;
    $("rename-name").value = location.name;
    show("rename-form", true);
    $("rename-name").focus();
  }

  function onRename(event) {
    event.preventDefault();
    const { location, kindText } = state.locations.renaming;
    const name = $("rename-name").value.trim();
    locationChange("POST", "locations/" + encodeURIComponent(location.locationId) + "/rename", { name: name },
      "The " + kindText + " " + location.name + " is now " + name + ".", location.facilityId || location.locationId,
      $("rename-name"));
  }

  function setLocationActive(location, kindText, active) {
    const action = active ? "reactivate" : "deactivate";
    locationChange("POST", "locations/" + encodeURIComponent(location.locationId) + "/" + action, undefined,
      "The " + kindText + " " + location.name + " is " + (active ? "active again." : "deactivated: it takes no new learners."),
      location.facilityId || location.locationId);
  }

  function onAddFacility(event) {
    event.preventDefault();
    const body = { agencyId: state.locations.agencyId, name: $("facility-add-name").value.trim() };
    const id = $("facility-add-id").value.trim();
    if (id) body.facilityId = id;
    locationChange("POST", "facilities", body, "Facility " + body.name + " added.", id, $("facility-add-name")).then((ok) => {
      if (!ok) return;
      $("facility-add-name").value = "";
      $("facility-add-id").value = "";
    });
  }

  // ------------------------------------------------------------------ facility settings

  const SETTING_NUMBERS = ["maxSyncDeactivationPercent", "maxUploadRows", "maxUploadBytes"];
  const SETTING_TEXT = {
    learnerAccess: "learner sign-in", passwordRule: "password rule", autoConfirmDrops: "confirming drops",
    dropMode: "what a drop is", maxSyncDeactivationPercent: "the sync hold", maxUploadRows: "most rows",
    maxUploadBytes: "largest file",
  };
  const CLASSES = ["lower", "upper", "digit", "symbol"];

  async function loadSettings() {
    const facility = currentFacility();
    if (!facility) return;
    $("settings-facility").textContent = "For " + facility.name + ". Each setting applies to this facility only.";
    $("settings-status").textContent = "Loading the settings…";
    $("settings-error").textContent = "";
    clearErrors("settings-", ["minLength", "requiredClasses", "blankFormat", ...SETTING_NUMBERS]);
    try {
      const { data } = await api("GET", "facilities/" + encodeURIComponent(facility.facilityId) + "/settings");
      if (state.facilityId !== facility.facilityId) return;
      fillSettings(data.settings);
      $("settings-status").textContent = "";
    } catch (error) {
      $("settings-status").textContent = "";
      $("settings-error").textContent = error.message;
    }
  }

  function fillSettings(settings) {
    state.settings = settings;
    $(settings.learnerAccess === "OFF" ? "settings-access-off" : "settings-access-on").checked = true;
    $(settings.dropMode === "sync" ? "settings-drop-sync" : "settings-drop-create").checked = true;
    $("settings-autoConfirmDrops").checked = Boolean(settings.autoConfirmDrops);
    const rule = settings.passwordRule;
    $("settings-rule-on").checked = Boolean(rule);
    $("settings-minLength").value = rule ? rule.minLength : 8;
    for (const name of CLASSES) $("settings-class-" + name).checked = Boolean(rule && rule.requiredClasses.includes(name));
    $("settings-blankFormat").value = (rule && rule.blankFormat) || "";
    show("settings-rule", Boolean(rule));
    for (const name of SETTING_NUMBERS) $("settings-" + name).value = String(settings[name]);
    $("settings-maxUploadRows").max = String(settings.systemMaxUploadRows);
    $("settings-maxUploadBytes").max = String(settings.systemMaxUploadBytes);
    $("settings-maxUploadRows-hint").textContent = "At most " + settings.systemMaxUploadRows + ", the system's limit (and its default: leave blank for it).";
    $("settings-maxUploadBytes-hint").textContent = "At most " + settings.systemMaxUploadBytes + ", the system's limit (and its default: leave blank for it).";
  }

  function ruleOfForm() {
    if (!$("settings-rule-on").checked) return null;
    const minLength = $("settings-minLength").value.trim();
    return {
      minLength: minLength === "" ? 8 : Number(minLength),
      requiredClasses: CLASSES.filter((name) => $("settings-class-" + name).checked),
      blankFormat: $("settings-blankFormat").value.trim() || null,
    };
  }

  function sameRule(a, b) {
    if (!a || !b) return a === b;
    return a.minLength === b.minLength && (a.blankFormat || null) === (b.blankFormat || null) &&
      a.requiredClasses.slice().sort().join() === b.requiredClasses.slice().sort().join();
  }

  async function onSaveSettings(event) {
    event.preventDefault();
    const loaded = state.settings;
    clearErrors("settings-", ["minLength", "requiredClasses", "blankFormat", ...SETTING_NUMBERS]);
    $("settings-status").textContent = "";
    $("settings-error").textContent = "";
    const changes = {};
    const access = $("settings-access-off").checked ? "OFF" : "ON";
    if (access !== loaded.learnerAccess) changes.learnerAccess = access;
    const mode = $("settings-drop-sync").checked ? "sync" : "create";
    if (mode !== loaded.dropMode) changes.dropMode = mode;
    if ($("settings-autoConfirmDrops").checked !== Boolean(loaded.autoConfirmDrops)) changes.autoConfirmDrops = $("settings-autoConfirmDrops").checked;
    const rule = ruleOfForm();
    if (!sameRule(rule, loaded.passwordRule)) changes.passwordRule = rule;
    for (const name of SETTING_NUMBERS) {
      const text = $("settings-" + name).value.trim();
      const value = text === "" ? null : Number(text);
      if (value !== loaded[name]) changes[name] = value; // blank: null, back to the system's default
    }
    if (!Object.keys(changes).length) {
      $("settings-status").textContent = "Nothing was changed.";
      return;
    }
    $("settings-save").disabled = true;
    const facility = currentFacility();
    try {
      const { data } = await api("POST", "facilities/" + encodeURIComponent(facility.facilityId) + "/settings", changes);
      fillSettings(data.settings);
      $("settings-status").textContent = "Saved for " + facility.name + ": " +
        Object.keys(changes).map((name) => SETTING_TEXT[name]).join(", ") + ".";
    } catch (error) {
      showApiError(error, "settings-", (field) => field.split(".").pop(), "settings-error");
    } finally {
      $("settings-save").disabled = false;
    }
  }

  // ------------------------------------------------------------------ audit

  const AUDIT_PAGE = 25;
  const ACTION_TEXT = {
    LEARNER_CREATED: "Learner created", LEARNER_EDITED: "Learner edited", LEARNER_MOVED: "Learner moved",
    LEARNER_UPDATED: "Learner updated by a sync", LEARNER_DEACTIVATED: "Learner deactivated",
    LEARNER_REACTIVATED: "Learner reactivated", LEARNER_PASSWORD_RESET: "Learner password reset",
    LEARNER_CARDS_PRINTED: "Learner cards printed", UPLOAD_CONFIRMED: "Upload confirmed",
    UPLOAD_DEACTIVATIONS_UNDONE: "Sync deactivations undone", RESULT_PASSWORDS_ISSUED: "Upload passwords downloaded",
    FACILITY_CREATED: "Facility created", HOUSING_UNIT_CREATED: "Housing unit created",
    LOCATION_RENAMED: "Location renamed", LOCATION_DEACTIVATED: "Location deactivated",
    LOCATION_ACTIVATED: "Location reactivated", LOCATION_DELETED: "Location deleted",
    FACILITY_SETTINGS_CHANGED: "Settings changed", STAFF_INVITED: "Staff member added",
    STAFF_CHANGED: "Staff role and scope replaced", STAFF_GRANT_ADDED: "Staff role added",
    STAFF_GRANT_REMOVED: "Staff role removed", STAFF_DISABLED: "Staff member disabled",
    STAFF_ENABLED: "Staff member enabled",
  };

  function fillAuditActions() {
    $("audit-action").replaceChildren(el("option", { value: "", text: "Every action" }),
      ...Object.entries(ACTION_TEXT).map(([value, text]) => el("option", { value: value, text: text })));
  }

  async function loadAudit(more) {
    const audit = state.audit;
    const facility = currentFacility();
    if (!facility) return;
    const generation = ++audit.generation;
    if (!more) {
      audit.entries = [];
      audit.next = null;
    }
    const action = $("audit-action").value;
    const params = new URLSearchParams({ limit: String(AUDIT_PAGE) });
    if (action) params.set("action", action);
    if (more && audit.next) params.set("before", audit.next);
    $("audit-error").textContent = "";
    $("audit-status").textContent = "Loading the audit trail…";
    try {
      const { data } = await api("GET", "facilities/" + encodeURIComponent(facility.facilityId) + "/audit?" + params.toString());
      if (generation !== audit.generation) return;
      audit.entries = audit.entries.concat(data.entries || []);
      audit.next = data.next || null;
      renderAudit(facility, action);
    } catch (error) {
      if (generation !== audit.generation) return;
      $("audit-status").textContent = "";
      $("audit-error").textContent = error.message;
    }
  }

  function detailsText(details) {
    return Object.entries(details || {}).filter(([, value]) => value !== null && value !== "")
      .map(([name, value]) => name + ": " + value).join(", ");
  }

  function renderAudit(facility, action) {
    const { entries, next } = state.audit;
    const what = action ? " (" + ACTION_TEXT[action] + ")" : "";
    $("audit-caption").textContent = "Audit trail of " + facility.name + what + ", newest first";
    $("audit-status").textContent = entries.length
      ? plural(entries.length, "entry", "entries") + what + " shown" + (next ? "; older ones follow." : ", the whole trail.")
      : next ? "No entries" + what + " among the newest of " + facility.name + "; older ones may have some."
        : "No entries" + what + " for " + facility.name + ".";
    $("audit-table").querySelector("tbody").replaceChildren(...entries.map((entry) => el("tr", {}, [
      el("td", { text: when(entry.at) }),
      el("td", { text: entry.actor }),
      el("td", { text: ACTION_TEXT[entry.action] || entry.action }),
      el("td", { text: String(entry.targetType || "").replace(/_/g, " ") + " " + entry.targetId }),
      el("td", { text: detailsText(entry.details) }),
    ])));
    show("audit-table", entries.length > 0);
    show("audit-more", Boolean(next));
  }

  // ------------------------------------------------------------------ start

  function restoreSession() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(TOKEN_KEY) || "null");
      if (saved && saved.expiresAt > Date.now() + 60000) return saved;
    } catch (error) {
      // an unreadable entry is the same as none
    }
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  }

  async function start() {
    $("sign-in-form").addEventListener("submit", onSignIn);
    $("new-password-form").addEventListener("submit", onNewPassword);
    $("mfa-code-form").addEventListener("submit", onMfaCode);
    $("mfa-setup-form").addEventListener("submit", onMfaSetup);
    $("sign-out").addEventListener("click", () => signOut("You are signed out."));
    $("facility").addEventListener("change", (event) => selectFacility(event.target.value));
    for (const button of document.querySelectorAll(".task")) {
      button.addEventListener("click", () => showTask(button.dataset.task));
    }
    $("add-form").addEventListener("submit", onAdd);
    $("print-one").addEventListener("click", () => printSlips([$("add-slip").firstElementChild.cloneNode(true)]));
    $("add-another").addEventListener("click", () => {
      $("add-slip").replaceChildren();
      show("add-result", false);
      show("add-form", true);
      $("add-docId").focus();
    });
    $("find-form").addEventListener("submit", (event) => {
      event.preventDefault();
      findLearners();
    });
    $("template-button").addEventListener("click", downloadTemplate);
    $("upload-form").addEventListener("submit", onUpload);
    $("confirm-form").addEventListener("submit", onConfirm);
    $("skip-invalid").addEventListener("change", updateConfirmButton);
    $("move-existing").addEventListener("change", updateConfirmButton);
    $("allow-mass").addEventListener("change", updateConfirmButton);
    $("undo-button").addEventListener("click", onUndo);
    $("print-slips").addEventListener("click", onPrintSlips);
    $("roster-form").addEventListener("submit", (event) => {
      event.preventDefault();
      loadRoster(false);
    });
    $("roster-status-filter").addEventListener("change", () => loadRoster(false));
    $("roster-unit").addEventListener("change", () => loadRoster(false));
    $("roster-more").addEventListener("click", () => loadRoster(true));
    $("roster-all").addEventListener("change", onSelectAll);
    $("roster-deactivate").addEventListener("click", () => setSelectedStatus("INACTIVE"));
    $("roster-reactivate").addEventListener("click", () => setSelectedStatus("ACTIVE"));
    $("roster-cards").addEventListener("click", () => downloadCards(Array.from(state.roster.selected), false, "roster-status", "roster-error"));
    $("roster-reset-cards").addEventListener("click", askResetAndPrint);
    $("reset-cancel").addEventListener("click", () => {
      show("reset-confirm", false);
      $("roster-reset-cards").focus();
    });
    $("reset-confirm-button").addEventListener("click", () => {
      show("reset-confirm", false);
      downloadCards(Array.from(state.roster.selected), true, "roster-status", "roster-error");
    });
    $("learner-back").addEventListener("click", () => {
      closeLearner();
      $("roster-q").focus();
    });
    $("learner-edit").addEventListener("click", openEdit);
    $("edit-form").addEventListener("submit", onEdit);
    $("edit-cancel").addEventListener("click", () => show("edit-form", false));
    $("learner-toggle").addEventListener("click", onToggleStatus);
    $("learner-password").addEventListener("click", openPassword);
    $("password-form").addEventListener("submit", onPassword);
    $("password-cancel").addEventListener("click", () => show("password-form", false));
    $("password-print").addEventListener("click", () => printSlips([$("password-slip").firstElementChild.cloneNode(true)]));
    $("learner-card").addEventListener("click", () => downloadCards([state.learner.learnerId], false, "learner-status", "learner-error"));
    $("uploads-refresh").addEventListener("click", () => loadUploads(false));
    $("uploads-more").addEventListener("click", () => loadUploads(true));
    $("opened-back").addEventListener("click", () => showTask("uploads"));
    $("download-results").addEventListener("click", onDownloadResults);
    $("staff-search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      loadStaff();
    });
    $("staff-add-open").addEventListener("click", openInvite);
    $("staff-add-form").addEventListener("submit", onInvite);
    $("staff-add-cancel").addEventListener("click", () => {
      openStaffList(false);
      $("staff-add-open").focus();
    });
    $("staff-invited-open").addEventListener("click", () => openStaff(state.staff.invited));
    $("staff-invited-back").addEventListener("click", () => {
      openStaffList(true);
      $("staff-q").focus();
    });
    $("staff-back").addEventListener("click", () => {
      openStaffList(true);
      $("staff-q").focus();
    });
    $("staff-toggle").addEventListener("click", onStaffToggle);
    $("grant-form").addEventListener("submit", onGrantAdd);
    $("grant-role").addEventListener("change", updateGrantFacility);
    $("locations-agency").addEventListener("change", (event) => {
      state.locations.agencyId = event.target.value;
      show("rename-form", false);
      loadLocations();
    });
    $("rename-form").addEventListener("submit", onRename);
    $("rename-cancel").addEventListener("click", () => {
      show("rename-form", false);
      $("locations-title").focus();
    });
    $("facility-add-form").addEventListener("submit", onAddFacility);
    $("settings-rule-on").addEventListener("change", () => show("settings-rule", $("settings-rule-on").checked));
    $("settings-form").addEventListener("submit", onSaveSettings);
    fillAuditActions();
    $("audit-form").addEventListener("submit", (event) => {
      event.preventDefault();
      loadAudit(false);
    });
    $("audit-action").addEventListener("change", () => loadAudit(false));
    $("audit-more").addEventListener("click", () => loadAudit(true));
    try {
      const response = await fetch("client-config");
      state.config = await response.json();
    } catch (error) {
      notice("Intake cannot be reached. Reload the page to try again.");
      return;
    }
    state.session = restoreSession();
    if (state.session) await enterApp();
    else $("username").focus();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
