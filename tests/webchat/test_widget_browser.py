"""The widget in headless Chromium against a scripted stand-in for Rasa's socket.io channel
(tests/webchat/support.py: FakeGids): rendering, safety, keyboard, persistence, connection loss,
colours and small screens. The real gids is in test_webchat_model.py."""
from __future__ import annotations

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from tests.conftest import free_port
from tests.webchat.support import (active_element_class, axe_violations, bot_texts, js, message_list,
                                   phone_viewport, root_element, screenshot, stored_conversation, wait,
                                   widget_ready)


def load(driver, url):
    driver.get(url)
    wait(driver, lambda: widget_ready(driver), message="the widget did not appear")


def open_chat(driver, url, fake=None):
    load(driver, url)
    root_element(driver, ".gids-launcher").click()
    wait(driver, lambda: js(driver, "return !root.querySelector('.gids-panel').hidden;"))
    if fake is not None:
        wait(driver, lambda: fake.confirmed, message="no session was confirmed")


def say(driver, text):
    root_element(driver, ".gids-input").send_keys(text, Keys.ENTER)


def wait_for_bot(driver, text, timeout=30):
    wait(driver, lambda: any(text in t for t in bot_texts(driver)), timeout, f"no bot message with {text!r}")


def note(driver) -> str:
    return js(driver, "return root.querySelector('.gids-note').textContent;")


def test_keyboard_alone_opens_uses_and_closes_the_chat(driver, demo, fake_gids):
    load(driver, demo)
    launcher = root_element(driver, ".gids-launcher")
    assert launcher.get_attribute("aria-expanded") == "false"
    assert js(driver, "return root.querySelector('.gids-launcher').textContent;") == "Stel je vraag"
    # Tab from the top of the page until the launcher has focus, as a keyboard user would.
    for _ in range(30):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        if "gids-launcher" in active_element_class(driver):
            break
    assert "gids-launcher" in active_element_class(driver)
    outline = js(driver, "const s = getComputedStyle(root.activeElement); return [s.outlineStyle, s.outlineWidth];")
    assert outline[0] != "none" and float(outline[1].rstrip("px")) >= 2, outline

    ActionChains(driver).send_keys(Keys.ENTER).perform()
    panel = root_element(driver, ".gids-panel")
    assert panel.is_displayed()
    assert panel.get_attribute("role") == "dialog"
    assert panel.get_attribute("aria-label") == "Chat met de digitale gids van Werkcentrum Groningen"
    assert launcher.get_attribute("aria-expanded") == "true"
    assert "gids-input" in active_element_class(driver)
    assert js(driver, "return root.querySelector('label[for=gids-input]').textContent;") == "Je bericht"

    ActionChains(driver).send_keys("hallo", Keys.ENTER).perform()
    wait_for_bot(driver, "Je zei: hallo")
    assert fake_gids.messages() == ["hallo"]
    # New bot messages are read out by the polite live region.
    assert js(driver, "const l = root.querySelector('[aria-live=polite].gids-vh'); return l.textContent;") \
        .endswith("Je zei: hallo")

    ActionChains(driver).send_keys(Keys.TAB).perform()
    assert "gids-send" in active_element_class(driver)
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    assert not panel.is_displayed()
    assert "gids-launcher" in active_element_class(driver)
    assert launcher.get_attribute("aria-expanded") == "false"
    # The page's own globals are left alone: socket.io's `io` is not leaked.
    assert driver.execute_script("return typeof window.io;") == "undefined"
    # Nothing was blocked by the page's CSP or failed to load (Chromium logs that as SEVERE).
    assert [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []


def test_bot_and_user_text_is_shown_as_text_never_as_html(driver, demo, fake_gids):
    open_chat(driver, demo, fake_gids)
    say(driver, "xss")
    wait_for_bot(driver, "<img src=x")
    bubble = js(driver, "return root.querySelector('.gids-bot .gids-bubble').innerHTML.length > 0 && "
                        "root.querySelector('.gids-bot .gids-bubble').textContent;")
    assert '<script>window.__pwned=2</script>' in bubble
    assert js(driver, "return root.querySelectorAll('.gids-bot img, .gids-bot script').length;") == 0
    links = js(driver, "return Array.from(root.querySelectorAll('.gids-bot a')).map(a => "
                       "[a.getAttribute('href'), a.target, a.rel]);")
    assert links == [["https://example.org/info", "_blank", "noopener noreferrer"]]
    assert "[dit](javascript:alert(1))" in bubble  # the unsafe link stays text

    say(driver, '<b>vet</b> <img src=x onerror="window.__pwned=3">')
    wait_for_bot(driver, "Je zei: <b>vet</b>")
    user = [m["text"] for m in message_list(driver) if m["who"] == "user"]
    assert user[-1] == '<b>vet</b> <img src=x onerror="window.__pwned=3">'
    assert js(driver, "return root.querySelectorAll('.gids-messages b, .gids-messages img').length;") == 0
    assert driver.execute_script("return window.__pwned === undefined;")


def test_a_button_sends_its_payload_shows_its_title_and_then_all_buttons_are_off(driver, demo, fake_gids):
    open_chat(driver, demo, fake_gids)
    say(driver, "knoppen")
    wait(driver, lambda: js(driver, "return root.querySelectorAll('.gids-choice').length;") == 2)
    group = js(driver, "const g = root.querySelector('.gids-choices'); return [g.getAttribute('role'), g.getAttribute('aria-label')];")
    assert group == ["group", "Wil je dat een medewerker contact met je opneemt?"]
    root_element(driver, ".gids-choice:nth-child(2)").send_keys(Keys.ENTER)
    wait_for_bot(driver, "Je zei: /deny")
    assert fake_gids.messages() == ["knoppen", "/deny"]
    shown = message_list(driver)
    assert [m["text"] for m in shown if m["who"] == "user"] == ["knoppen", "Nee, dank je"]
    buttons = [b for m in shown for b in m["buttons"]]
    assert [b["title"] for b in buttons] == ["Ja, graag", "Nee, dank je"]
    assert all(b["disabled"] for b in buttons)


def test_partner_card_with_phone_website_and_mail_links_and_no_unsafe_ones(driver, demo, fake_gids):
    open_chat(driver, demo, fake_gids)
    say(driver, "kaart")
    wait(driver, lambda: js(driver, "return root.querySelectorAll('.gids-card').length;") == 2)
    cards = js(driver, """return Array.from(root.querySelectorAll('.gids-card')).map(c => ({
        label: c.getAttribute('aria-label'), title: c.querySelector('h3').textContent, text: c.textContent,
        links: Array.from(c.querySelectorAll('a')).map(a => [a.getAttribute('href'), a.target || ''])}));""")
    first, second = cards
    assert first["title"] == first["label"] == "Gemeente <b>Teststad</b>"
    assert "De gemeente helpt je gratis." in first["text"] and "Ook als je werk hebt." in first["text"]
    assert "Bel: 050 - 367 91 11 (9.00 tot 17.00 uur)" in first["text"]
    assert "Adres: Markt 1, Teststad" in first["text"]
    assert first["links"] == [["tel:0503679111", ""], ["https://www.teststad.nl/schulden", "_blank"],
                              ["mailto:hulp@teststad.nl", ""]]
    # A card replaces its text fallback: two bot messages, not four.
    assert [m["card"] for m in message_list(driver) if m["who"] == "bot"] == ["Gemeente <b>Teststad</b>", "Foute Links"]
    assert second["links"] == []
    assert "javascript:alert(1)" in second["text"] and "geen nummer" in second["text"]
    assert js(driver, "return root.querySelectorAll('.gids-card img').length;") == 0
    live = js(driver, "return root.querySelector('[aria-live=polite].gids-vh').textContent;")
    assert "Gemeente <b>Teststad</b>. De gemeente helpt je gratis." in live


def test_images_are_shown_only_from_http_addresses(driver, demo, fake_gids):
    open_chat(driver, demo, fake_gids)
    say(driver, "plaatje")
    wait_for_bot(driver, "Dat waren de plaatjes.")
    images = js(driver, "return Array.from(root.querySelectorAll('.gids-messages img')).map(i => [i.src, i.alt]);")
    assert images == [[f"{fake_gids.url}/pixel.png", "Afbeelding van de gids"]]


def test_empty_input_is_not_sent_and_too_long_input_stays_with_a_note(driver, demo, fake_gids):
    open_chat(driver, demo, fake_gids)
    box = root_element(driver, ".gids-input")
    box.send_keys(Keys.ENTER)
    assert note(driver) == "Typ eerst een bericht."
    box.send_keys("   ", Keys.ENTER)
    assert note(driver) == "Typ eerst een bericht."

    # As after a paste: the whole text stays in the box, it is not cut off, it is not sent.
    js(driver, "const i = root.querySelector('.gids-input'); i.value = 'a'.repeat(2500);"
               "i.dispatchEvent(new Event('input', {bubbles: true}));")
    assert note(driver) == "Je bericht is te lang: 2500 tekens. Je kunt er 2000 sturen. Maak het wat korter."
    assert box.get_attribute("aria-invalid") == "true"
    box.send_keys(Keys.END, Keys.ENTER)
    assert js(driver, "return root.querySelector('.gids-input').value.length;") == 2500
    assert "te lang" in note(driver)

    js(driver, "const i = root.querySelector('.gids-input'); i.value = 'b'.repeat(1900);"
               "i.dispatchEvent(new Event('input', {bubbles: true}));")
    assert note(driver) == "Nog 100 tekens."
    assert box.get_attribute("aria-invalid") is None
    box.send_keys(Keys.ENTER)
    wait_for_bot(driver, "Je zei: bbb")
    say(driver, "hallo")
    wait_for_bot(driver, "Je zei: hallo")
    # Messages arrive in order, so nothing empty or too long was sent before these two.
    assert fake_gids.messages() == ["b" * 1900, "hallo"]


def test_reload_keeps_the_conversation_and_session_and_new_conversation_forgets_both(driver, demo, fake_gids):
    open_chat(driver, demo, fake_gids)
    say(driver, "hallo")
    wait_for_bot(driver, "Je zei: hallo")
    session_id = stored_conversation(driver)["sessionId"]
    assert session_id == fake_gids.confirmed[0]
    before = message_list(driver)

    driver.refresh()
    wait(driver, lambda: widget_ready(driver))
    # The panel was open, so it is open again, with the same messages and the same session.
    assert root_element(driver, ".gids-panel").is_displayed()
    assert message_list(driver) == before
    wait(driver, lambda: len(fake_gids.session_requests) == 2)
    assert fake_gids.session_requests == [None, session_id]
    say(driver, "nog een vraag")
    wait_for_bot(driver, "Je zei: nog een vraag")
    assert fake_gids.received[-1] == {"session_id": session_id, "message": "nog een vraag"}

    root_element(driver, ".gids-new").click()
    assert root_element(driver, ".gids-confirm").is_displayed()
    assert "gids-confirm-no" in active_element_class(driver)
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()  # Escape cancels the question, not the chat
    assert not root_element(driver, ".gids-confirm").is_displayed()
    assert root_element(driver, ".gids-panel").is_displayed()
    assert len(message_list(driver)) == len(before) + 2

    root_element(driver, ".gids-new").click()
    root_element(driver, ".gids-confirm-yes").click()
    assert message_list(driver) == []
    wait(driver, lambda: len(fake_gids.session_requests) == 3)
    assert fake_gids.session_requests[2] is None
    wait(driver, lambda: (stored_conversation(driver) or {}).get("sessionId") not in (None, session_id))
    assert stored_conversation(driver)["history"] == []
    say(driver, "opnieuw")
    wait_for_bot(driver, "Je zei: opnieuw")
    assert fake_gids.received[-1]["session_id"] not in (None, session_id)
    driver.refresh()
    wait(driver, lambda: widget_ready(driver))
    assert [m["text"] for m in message_list(driver)] == ["opnieuw", "Je zei: opnieuw"]


def test_connection_lost_and_restored_and_a_message_typed_meanwhile_arrives(driver, demo, fake_gids):
    open_chat(driver, demo, fake_gids)
    say(driver, "hallo")
    wait_for_bot(driver, "Je zei: hallo")
    session_id = fake_gids.confirmed[0]

    fake_gids.server.stop()
    wait(driver, lambda: any(m["text"] == "De verbinding is weg. Ik probeer het opnieuw."
                             for m in message_list(driver) if m["who"] == "note"))
    assert root_element(driver, ".gids-status").is_displayed()
    say(driver, "ben je er nog")
    assert note(driver) == "Je bericht gaat weg zodra de verbinding terug is."

    fake_gids.server.start()
    wait(driver, lambda: any(m["text"] == "De verbinding is terug." for m in message_list(driver)), timeout=60)
    wait_for_bot(driver, "Je zei: ben je er nog")
    assert fake_gids.received[-1] == {"session_id": session_id, "message": "ben je er nog"}
    assert not root_element(driver, ".gids-status").is_displayed()
    assert note(driver) == ""


def test_a_message_typed_offline_survives_a_reload_and_is_sent_later(driver, demo, fake_gids):
    open_chat(driver, demo, fake_gids)
    say(driver, "hallo")
    wait_for_bot(driver, "Je zei: hallo")
    fake_gids.server.stop()
    wait(driver, lambda: root_element(driver, ".gids-status").is_displayed())
    say(driver, "mijn vraag")
    assert stored_conversation(driver)["pending"] == ["mijn vraag"]

    driver.refresh()
    wait(driver, lambda: widget_ready(driver))
    assert [m["text"] for m in message_list(driver)] == ["hallo", "Je zei: hallo", "mijn vraag"]
    fake_gids.server.start()
    wait_for_bot(driver, "Je zei: mijn vraag", timeout=60)
    assert fake_gids.received[-1] == {"session_id": fake_gids.confirmed[0], "message": "mijn vraag"}
    assert stored_conversation(driver)["pending"] == []


def test_a_gids_that_cannot_be_reached_is_named_plainly(driver, demo_factory):
    url = demo_factory(f"http://127.0.0.1:{free_port()}")
    open_chat(driver, url)
    wait(driver, lambda: js(driver, "return root.querySelector('.gids-status').textContent;")
         == "Ik kan de gids nu niet bereiken. Ik probeer het steeds opnieuw.")


def test_colours_with_too_little_contrast_fall_back_to_readable_ones(driver, fake_gids, demo_factory):
    # The defaults: white text on the blue; the orange accent (2.4:1 on white) is too light
    # for a focus ring, so the ring is blue.
    load(driver, demo_factory(fake_gids.url))
    assert driver.execute_script("return window.WerkcentrumGids.theme;") == {
        "color": "#00617f", "onColor": "#ffffff", "text": "#00617f", "accent": "#f39200",
        "onAccent": "#000000", "focus": "#00617f", "focusOnColor": "#ffffff"}
    # A dark accent is used for the focus ring as configured.
    load(driver, demo_factory(fake_gids.url, accent="#8a1c00"))
    assert driver.execute_script("return window.WerkcentrumGids.theme.focus;") == "#8a1c00"

    # A light yellow house style: kept for surfaces, with black text on it; text and focus
    # ring on white get the safe default colour.
    load(driver, demo_factory(fake_gids.url, color="#ffe94d", accent="#fff6c2"))
    theme = driver.execute_script("return window.WerkcentrumGids.theme;")
    assert (theme["onColor"], theme["text"], theme["focus"]) == ("#000000", "#00617f", "#00617f")
    styles = js(driver, "const s = getComputedStyle(root.querySelector('.gids-launcher')); return [s.color, s.backgroundColor];")
    assert styles == ["rgb(0, 0, 0)", "rgb(255, 233, 77)"]
    root_element(driver, ".gids-launcher").click()
    wait(driver, lambda: fake_gids.confirmed)
    say(driver, "knoppen")
    wait(driver, lambda: js(driver, "return root.querySelectorAll('.gids-choice').length;") == 2)
    assert js(driver, "return getComputedStyle(root.querySelector('.gids-choice')).color;") == "rgb(0, 97, 127)"
    violations = axe_violations(driver)
    assert violations == [], violations


def test_phone_width_gets_a_full_screen_chat(driver, demo, fake_gids):
    phone_viewport(driver, 360, 740)
    open_chat(driver, demo, fake_gids)
    say(driver, "kaart")
    wait(driver, lambda: js(driver, "return root.querySelectorAll('.gids-card').length;") == 2)
    # Measured once the panel's opening animation (160 ms) is over: on a busy machine it may not be.
    wait(driver, lambda: js(driver, "return root.querySelector('.gids-panel').getAnimations().length;") == 0)
    box = js(driver, "const r = root.querySelector('.gids-panel').getBoundingClientRect();"
                     "return [r.left, r.top, r.width, r.height, innerWidth, innerHeight];")
    assert box[:4] == [0, 0, box[4], box[5]] and box[4] == 360
    assert not root_element(driver, ".gids-launcher").is_displayed()  # the panel has its own close button
    assert driver.execute_script("return document.documentElement.scrollWidth;") <= 360
    assert js(driver, "return root.querySelector('.gids-log').scrollWidth <= root.querySelector('.gids-log').clientWidth;")
    screenshot(driver, "webchat-scripted-360.png")
    root_element(driver, ".gids-close").click()
    assert root_element(driver, ".gids-launcher").is_displayed()


def test_reduced_motion_turns_animation_off(driver, demo, fake_gids):
    load(driver, demo)
    dots = "return getComputedStyle(root.querySelector('.gids-dots span')).animationName;"
    assert js(driver, dots) == "gids-blink"
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia",
                           {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]})
    assert js(driver, dots) == "none"
    root_element(driver, ".gids-launcher").click()
    assert js(driver, "return getComputedStyle(root.querySelector('.gids-panel')).animationName;") == "none"


def test_inline_mode_shows_the_chat_in_the_page_without_launcher(driver, demo, fake_gids):
    load(driver, demo + "?mode=inline")
    assert js(driver, "return host.parentElement.id;") == "gids-chat"
    assert root_element(driver, ".gids-panel").is_displayed()
    assert js(driver, "return root.querySelectorAll('.gids-launcher, .gids-close').length;") == 0
    wait(driver, lambda: fake_gids.confirmed)  # it connects without a click
    say(driver, "hallo")
    wait_for_bot(driver, "Je zei: hallo")
    ActionChains(driver).send_keys(Keys.ESCAPE).perform()
    assert root_element(driver, ".gids-panel").is_displayed()


def test_axe_finds_nothing_serious_with_cards_buttons_and_notes(driver, demo, fake_gids):
    open_chat(driver, demo, fake_gids)
    for text in ("kaart", "plaatje", "xss", "knoppen"):
        say(driver, text)
    wait(driver, lambda: js(driver, "return root.querySelectorAll('.gids-choice').length;") == 2)
    root_element(driver, ".gids-input").send_keys(Keys.ENTER)  # the "type something first" note
    violations = axe_violations(driver)
    screenshot(driver, "webchat-scripted-desktop.png")
    assert violations == [], violations
