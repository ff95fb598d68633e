// Load every page module (each registers its routes), then draw the page.
import { start } from "./app.js";
import "./public.js";
import "./holder.js";
import "./staff.js";

start();
