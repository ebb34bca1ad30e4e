from bot.text import MAX_CLASSIFY_CHARS, InputKind, classify_input, clean_for_classifier


def test_html_is_dropped_for_the_classifier():
    assert clean_for_classifier("<b>ik heb</b> <i>schulden</i> &amp; zorgen") == "ik heb schulden & zorgen"
    assert clean_for_classifier("<script>alert('x')</script>werk<style>p{}</style>") == "werk"


def test_long_messages_keep_head_and_tail_on_word_boundaries():
    words = [f"woord{i}" for i in range(900)]
    text = "Ik heb schulden. " + " ".join(words) + " Kunnen jullie mij helpen?"
    cut = clean_for_classifier(text)
    assert len(cut) <= MAX_CLASSIFY_CHARS
    assert cut.startswith("Ik heb schulden.") and cut.endswith("Kunnen jullie mij helpen?")
    assert " … " in cut
    assert all(w.startswith("woord") and w[5:].isdigit() for w in cut.split(" … ")[0].split()[3:])


def test_a_sentence_pasted_many_times_counts_once():
    text = "Mijn rug doet pijn. " * 80 + "Ik wil een opleiding doen."
    assert clean_for_classifier(text) == "Mijn rug doet pijn. Ik wil een opleiding doen."
    assert clean_for_classifier("Hallo.\nHALLO.\r\nik zoek werk") == "Hallo. ik zoek werk"


def test_input_kinds():
    assert classify_input("") is InputKind.EMPTY
    assert classify_input("   \n\t ") is InputKind.EMPTY
    assert classify_input("<p></p>") is InputKind.EMPTY
    assert classify_input("🙈🙈🙈") is InputKind.NO_WORDS
    assert classify_input("?!...") is InputKind.NO_WORDS
    assert classify_input("مرحبا أريد عملا") is InputKind.OTHER_SCRIPT
    assert classify_input("Привет, я ищу работу") is InputKind.OTHER_SCRIPT
    assert classify_input("ሰላም ስራ እፈልጋለሁ") is InputKind.OTHER_SCRIPT
    assert classify_input("ik zoek werk 😊") is InputKind.TEXT
    assert classify_input("9711 AB") is InputKind.TEXT
    assert classify_input("3011") is InputKind.TEXT
    assert classify_input("Ik spreek Arabisch: مرحبا") is InputKind.TEXT
