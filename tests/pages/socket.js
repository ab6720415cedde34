new WebSocket(document.getElementById("to").dataset.to);
