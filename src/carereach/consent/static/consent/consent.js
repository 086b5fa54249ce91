/* Consent forms: a finger signature pad, and showing only what fits the chosen address.
   Plain script, no dependencies. Without it the forms still work: the typed name replaces the
   signature, and the server keeps only the programs and channels the address can take. */
(function () {
  "use strict";

  function signaturePad(pad) {
    var canvas = pad.querySelector("canvas");
    var input = document.querySelector("[data-signature-input]");
    var clear = pad.querySelector("[data-signature-clear]");
    var context = canvas.getContext("2d");
    var drawing = false;
    var drawn = false;
    var last = null;

    function size() {
      if (drawn) { return; }  // resizing would wipe a signature
      var ratio = Math.min(window.devicePixelRatio || 1, 2);
      var rect = canvas.getBoundingClientRect();
      canvas.width = Math.max(1, Math.round(rect.width * ratio));
      canvas.height = Math.max(1, Math.round(rect.height * ratio));
      context.setTransform(ratio, 0, 0, ratio, 0, 0);
      context.lineWidth = 2.5;
      context.lineCap = "round";
      context.lineJoin = "round";
      context.strokeStyle = "#1b1f24";
    }

    function point(event) {
      var rect = canvas.getBoundingClientRect();
      return { x: event.clientX - rect.left, y: event.clientY - rect.top };
    }

    function save() {
      input.value = drawn ? canvas.toDataURL("image/png") : "";
      pad.classList.toggle("signed", drawn);
    }

    canvas.addEventListener("pointerdown", function (event) {
      event.preventDefault();
      canvas.setPointerCapture(event.pointerId);
      drawing = true;
      last = point(event);
      context.beginPath();
      context.arc(last.x, last.y, context.lineWidth / 2, 0, Math.PI * 2);
      context.fillStyle = context.strokeStyle;
      context.fill();
      drawn = true;
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!drawing) { return; }
      event.preventDefault();
      var next = point(event);
      context.beginPath();
      context.moveTo(last.x, last.y);
      context.lineTo(next.x, next.y);
      context.stroke();
      last = next;
    });
    function stop() {
      if (!drawing) { return; }
      drawing = false;
      save();
    }
    canvas.addEventListener("pointerup", stop);
    canvas.addEventListener("pointercancel", stop);
    canvas.addEventListener("lostpointercapture", stop);

    clear.addEventListener("click", function () {
      drawn = false;
      context.clearRect(0, 0, canvas.width, canvas.height);
      size();
      save();
    });

    pad.hidden = false;
    size();
    window.addEventListener("resize", size);
    // After a failed submit the page comes back with the signature: show it again.
    if (input.value.indexOf("data:image/png;base64,") === 0) {
      var image = new Image();
      image.onload = function () {
        var rect = canvas.getBoundingClientRect();
        context.drawImage(image, 0, 0, rect.width, rect.height);
        drawn = true;
        pad.classList.add("signed");
      };
      image.src = input.value;
    }
  }

  function fitToAddress(form) {
    var radios = form.querySelectorAll("input[name=address]");
    var note = form.querySelector("[data-hidden-note]");

    function update() {
      var chosen = form.querySelector("input[name=address]:checked");
      if (!chosen) { return; }
      var usable = chosen.getAttribute("data-channels").split(" ");
      var kind = chosen.getAttribute("data-kind");
      var hidden = 0;
      form.querySelectorAll(".program-card").forEach(function (card) {
        var fits = card.getAttribute("data-channels").split(" ").some(function (c) {
          return usable.indexOf(c) !== -1;
        });
        card.hidden = !fits;
        var box = card.querySelector("input[type=checkbox]");
        box.disabled = !fits;
        if (!fits) { box.checked = false; hidden += 1; }
      });
      if (note) { note.hidden = hidden === 0; }
      // Revocations: a phone covers texts and calls; an e-mail address covers e-mail.
      form.querySelectorAll("[data-channel]").forEach(function (tile) {
        var channel = tile.getAttribute("data-channel");
        var fits = kind === "phone" ? channel !== "email" : channel === "email";
        tile.hidden = !fits;
        tile.querySelector("input").disabled = !fits;
      });
    }

    radios.forEach(function (radio) { radio.addEventListener("change", update); });
    update();
  }

  document.querySelectorAll("[data-consent-form]").forEach(fitToAddress);
  document.querySelectorAll("[data-signature-pad]").forEach(signaturePad);
})();
