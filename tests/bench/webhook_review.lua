-- wrk script: POST the AdmissionReview in $REVIEW_BODY to the URL, keep-alive.
local path = os.getenv("REVIEW_BODY")
local file = assert(io.open(path, "rb"), "cannot open " .. tostring(path))
local body = file:read("*a")
file:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
