"""The original service's shape, as the HTTP benchmark's Python peer.

A Flask app with the three endpoints of the Flask + TextBlob service this
project replaces: POST /webhook (customer_id, message -> polarity and the
frustrated verdict, strict `<` threshold), POST /slash-analyze (JSON text
or message, or a Slack form) and GET /health. Scoring is TextBlob itself
(`TextBlob(text).sentiment`, through textblob_peer). The DevRev call of the original is left out: the
benchmark measures serving and scoring, and no network is reachable here.

    gunicorn -w "$(nproc)" -b 127.0.0.1:PORT --chdir bench flask_peer:app
"""
import os

from flask import Flask, jsonify, request

from textblob_peer import analyzer

THRESHOLD = float(os.environ.get("FRUSTRATION_THRESHOLD", "-0.3"))

app = Flask(__name__)


@app.route("/webhook", methods=["POST"])
def webhook():
    data = request.get_json(silent=True) or {}
    customer_id = data.get("customer_id")
    message = data.get("message")
    if not customer_id or not message:
        return jsonify({"error": "customer_id and message are required"}), 400
    polarity, subjectivity = analyzer(message)
    frustrated = polarity < THRESHOLD
    return jsonify({
        "customer_id": customer_id,
        "polarity": polarity,
        "subjectivity": subjectivity,
        "frustrated": frustrated,
        "alert": "none",
    })


@app.route("/slash-analyze", methods=["POST"])
def slash_analyze():
    if request.is_json:
        data = request.get_json(silent=True) or {}
        text = data.get("text") or data.get("message") or ""
    else:
        text = request.form.get("text", "")
    if not text.strip():
        return jsonify({"error": "text is required"}), 400
    polarity, subjectivity = analyzer(text)
    frustrated = polarity < THRESHOLD
    verdict = "%s - polarity %.2f (threshold %.2f)" % (
        "Frustrated" if frustrated else "Not frustrated", polarity, THRESHOLD)
    return jsonify({
        "response_type": "ephemeral",
        "text": verdict,
        "polarity": polarity,
        "subjectivity": subjectivity,
        "frustrated": frustrated,
    })


@app.route("/health", methods=["GET"])
def health():
    return jsonify({"status": "ok", "threshold": THRESHOLD})
