-- wrk: POST /slash-analyze with a typical short customer message.
wrk.method = "POST"
wrk.body = '{"text": "I have been waiting for a week and the app still crashes, this is really frustrating"}'
wrk.headers["Content-Type"] = "application/json"
