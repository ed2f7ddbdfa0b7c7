//! The `m` view: a world map of the window's destinations (GeoIP city X, country-only x).

use crate::ui::App;
use crate::ui::draw::{block, tuples_of, window_title};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::Span;
use ratatui::widgets::canvas::{Canvas, Map, MapResolution};

pub(crate) fn map_view(f: &mut Frame<'_>, app: &App<'_>, area: Rect) {
    let mut exact: Vec<(f64, f64)> = Vec::new();
    let mut country: Vec<(f64, f64)> = Vec::new();
    let mut remotes = 0;
    for t in tuples_of(app, false) {
        remotes += 1;
        let p = app.geo.place(t.remote);
        if let Some((lat, lon)) = p.coords {
            if p.approximate {
                country.push((lon, lat));
            } else {
                exact.push((lon, lat));
            }
        }
    }
    let title = window_title(
        app,
        &format!(
            "World map: {} of {remotes} destinations located (X: GeoIP city, x: country only)",
            exact.len() + country.len()
        ),
    );
    let canvas = Canvas::default()
        .block(block(&title, true))
        .x_bounds([-180.0, 180.0])
        .y_bounds([-90.0, 90.0])
        .paint(move |ctx| {
            ctx.draw(&Map {
                color: Color::Green,
                resolution: MapResolution::High,
            });
            ctx.layer();
            for (x, y) in &country {
                ctx.print(
                    *x,
                    *y,
                    Span::styled("x", Style::new().fg(Color::Yellow).bold()),
                );
            }
            for (x, y) in &exact {
                ctx.print(
                    *x,
                    *y,
                    Span::styled("X", Style::new().fg(Color::Red).bold()),
                );
            }
        });
    f.render_widget(canvas, area);
}
