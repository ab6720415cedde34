document.getElementById("scripted").textContent = "Updated by the page's script at load.";
